"""Per-installation scaling: the override (CLI, config), where a scaling came from, plausibility warnings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meterui.cli import main
from meterui.config import Config, dumps, load_config, meter_profile
from meterui.protocol import encode as E
from meterui.protocol import lists
from meterui.protocol.plausibility import check_energy, check_voltage, plausibility


def kamstrup_list2(energy_raw: int, volts: int = 230) -> bytes:
    body = E.structure(
        E.visible("Kamstrup_V0001"),
        E.obis("1.1.0.0.5.255"),
        E.visible("5706567000000000"),
        E.obis("1.1.32.7.0.255"),
        E.u16(volts),
        E.obis("1.1.1.8.0.255"),
        E.u32(energy_raw),
    )
    return E.hdlc_frame(E.LLC + E.data_notification(body, dt=E.cosem_datetime(None)))


def decode_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: bytes, *args: str) -> tuple[int, list, str]:
    path = tmp_path / "cap.bin"
    path.write_bytes(data)
    code = main(["decode", str(path), "--output", "json", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(x) for x in out.splitlines() if x.strip()], err


def test_cli_scale_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, objs, _ = decode_json(capsys, tmp_path, kamstrup_list2(12345))
    r = {x["id"]: x for x in objs[0]["readings"]}
    assert code == 0 and (r["1.1.1.8.0.255"]["value"], r["1.1.1.8.0.255"]["unit"]) == (123450, "Wh")  # 10 Wh (NO)
    code, objs, _ = decode_json(capsys, tmp_path, kamstrup_list2(12345), "--scale", "energy=0.1")
    r = {x["id"]: x for x in objs[0]["readings"]}
    assert code == 0 and r["1.1.1.8.0.255"]["value"] == pytest.approx(12345)  # a Swedish meter sending Wh
    assert r["1.1.32.7.0.255"]["value"] == 230


def test_tree_says_user_override(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "cap.bin"
    path.write_bytes(kamstrup_list2(12345))
    assert main(["decode", str(path), "--output", "tree", "--scale", "energy=0.1"]) == 0
    out = capsys.readouterr().out
    assert "list specification (Kamstrup_V0001)" in out and "user override ×0.1" in out


@pytest.mark.parametrize("args", [["--scale", "energy=3"], ["--scale", "watts=0.1"], ["--tz", "Mars/Olympus"]])
def test_bad_profile_arguments_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str]
) -> None:
    code, objs, err = decode_json(capsys, tmp_path, kamstrup_list2(1), *args)
    assert code == 2 and objs == [] and len(err.strip().splitlines()) == 1 and err.startswith("meterui: error:")


def test_cli_tz(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = E.structure(E.visible("Kamstrup_V0001"), E.obis("1.1.1.7.0.255"), E.u32(5))
    from datetime import datetime

    frame = E.hdlc_frame(E.LLC + E.data_notification(body, dt=E.cosem_datetime(datetime(2026, 7, 1, 12), None)))
    _, objs, _ = decode_json(capsys, tmp_path, frame)
    assert objs[0]["clock"] == "2026-07-01T12:00:00"  # decode: as sent unless a zone is given
    _, objs, _ = decode_json(capsys, tmp_path, frame, "--tz", "Europe/Stockholm")
    assert objs[0]["clock"] == "2026-07-01T12:00:00+02:00"


def test_config_round_trip_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(dumps(Config(scale="energy=0.1", timezone="Europe/Oslo")))
    cfg = load_config(path)
    assert cfg is not None and cfg.scale == "energy=0.1" and cfg.timezone == "Europe/Oslo"
    prof = meter_profile(cfg.scale, cfg.timezone)
    assert prof is not None and prof.scale[(1, 8)] == 0.1 and prof.scale_text == "energy=0.1"
    path.write_text('[meter]\nscale = "energy=7"\n')
    with pytest.raises(Exception, match=r"meter\.scale"):
        load_config(path)
    path.write_text('[display]\ntimezone = "Nowhere/Land"\n')
    with pytest.raises(Exception, match=r"display\.timezone"):
        load_config(path)


def test_scale_override_on_positional_and_descriptor_lists() -> None:
    from meterui.protocol.decoder import StreamDecoder

    prof = lists.MeterProfile({"voltage": 0.1})
    body = E.structure(
        E.u16(231),
        E.u16(232),
        E.u16(233),
        E.u16(652),
        E.u16(0),
        E.u16(45),
        E.u32(1500),
        E.u32(20),
        E.u32(3000),
        E.u32(30),
        E.octets(b"LGZ0012345"),
    )  # LNG2 (11): whole volts by default
    d = StreamDecoder(profile=prof)
    msg = d.feed(E.hdlc_frame(E.LLC + E.data_notification(body)))[0]
    assert {r.id: r.value for r in msg.readings}["1.0.32.7.0.255"] == pytest.approx(23.1)


# -- plausibility ------------------------------------------------------------------------------------
def test_voltage_above_1000_v() -> None:
    assert check_voltage(231.0) is None
    w = check_voltage(23012.0)
    assert w is not None and (w.group, w.factor) == ("voltage", 0.01)
    w = check_voltage(2301.0)
    assert w is not None and w.factor == 0.1


def test_energy_growing_ten_times_faster_than_integrated_power() -> None:
    power = [(t, 1000.0) for t in range(0, 3601, 10)]  # 1 kW for one hour = 1000 Wh
    assert check_energy(power, (0, 5000), (3600, 6000)) is None
    w = check_energy(power, (0, 50000), (3600, 60000))
    assert w is not None and (w.group, w.factor) == ("energy", 0.1)
    w = check_energy(power, (0, 500), (3600, 600))
    assert w is not None and w.factor == 10
    assert check_energy(power[:1], (0, 0), (3600, 60000)) is None  # too few power samples to judge


def test_plausibility_over_a_series() -> None:
    series = [
        (
            float(t),
            [
                ("active_power_import", "1.0.1.7.0.255", 2000, "W"),
                ("voltage_l1", "1.0.32.7.0.255", 230.1, "V"),
                ("active_energy_import", "1.0.1.8.0.255", 1_000_000 + t * 2000 / 3600 * 10, "Wh"),
            ],
        )
        for t in range(0, 7201, 60)
    ]
    found = plausibility(series)
    assert [(w.group, w.factor) for w in found] == [("energy", 0.1)]
    series[3][1].append(("voltage_l2", "1.0.52.7.0.255", 23010, "V"))
    assert {w.group for w in plausibility(series)} == {"energy", "voltage"}
