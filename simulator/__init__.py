"""The offline OpenAI-compatible model endpoint with fault injection: the default provider."""

from simulator.app import create_app
from simulator.engine import DEFAULT_MODELS, SimResponse, Simulator, get_default_simulator
from simulator.error_model import ErrorModel, ErrorRates
from simulator.faults import FAULTS_ENV_VAR, FaultSpec

__all__ = [
    "DEFAULT_MODELS",
    "FAULTS_ENV_VAR",
    "ErrorModel",
    "ErrorRates",
    "FaultSpec",
    "SimResponse",
    "Simulator",
    "create_app",
    "get_default_simulator",
]
