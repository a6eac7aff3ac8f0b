from meterui.cli import main

raise SystemExit(main())
