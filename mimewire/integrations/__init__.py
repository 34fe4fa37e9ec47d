"""Drop-in streaming form parsing for web frameworks, one module per framework.

``mimewire.integrations.starlette`` (Starlette, FastAPI), ``mimewire.integrations.werkzeug``
(werkzeug, Flask) and ``mimewire.integrations.django`` each import their framework, so import
only the one you use (``pip install "mimewire[starlette]"`` and so on). This package itself,
like ``import mimewire``, imports no framework: it holds the framework-free field policy
and the form reader the integrations share (also usable for another framework).
"""

from __future__ import annotations

from ._policy import FieldPolicy, FormChecker, FormReader, FormRejected, FormSink, rejected

__all__ = ["FieldPolicy", "FormChecker", "FormReader", "FormRejected", "FormSink", "rejected"]
