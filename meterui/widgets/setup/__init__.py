"""The setup wizard's steps, one widget per step (the screen, ``meterui.screens.setup``, sequences them)."""

from meterui.widgets.setup.base import TestStep, WizardStep
from meterui.widgets.setup.broute import BrouteStep, JoinStep
from meterui.widgets.setup.keys import KeysStep
from meterui.widgets.setup.listen import ListenStep
from meterui.widgets.setup.mqtt import MqttStep
from meterui.widgets.setup.port import PortStep
from meterui.widgets.setup.preset import PresetStep
from meterui.widgets.setup.serial import SerialStep

__all__ = [
    "BrouteStep",
    "JoinStep",
    "KeysStep",
    "ListenStep",
    "MqttStep",
    "PortStep",
    "PresetStep",
    "SerialStep",
    "TestStep",
    "WizardStep",
]
