"""Client for `verifier serve`, the reward verifier: sync and asyncio clients, and adapters for
TRL (`verifier_client.trl`) and verl (`verifier_client.verl`). Standard library only.

    import verifier_client
    client = verifier_client.Client()   # endpoints from $VERIFIER_URL (comma-separated)
    results = client.grade([{"completion": "...", "task": {"kind": "math", "answer": "2"}}])
"""

from verifier_client.client import (
    AsyncClient,
    Client,
    Result,
    VerifierError,
    VerifierRequestError,
    VerifierUnavailable,
    endpoints_from_env,
)
from verifier_client._convert import completion_text
from verifier_client import tasks, trl, verl

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "Result",
    "VerifierError",
    "VerifierRequestError",
    "VerifierUnavailable",
    "completion_text",
    "endpoints_from_env",
    "tasks",
    "trl",
    "verl",
]
