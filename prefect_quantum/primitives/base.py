"""The part of a primitive that is not about its pubs: options, runtime, closing."""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any, Self

from .options import PrimitiveOptions, resolve_options
from .runtime import Runtime


class RuntimePrimitive:
    """Holds a primitive's options and :class:`Runtime`; closes it, also when dropped."""

    _options: PrimitiveOptions
    _runtime: Runtime

    def _start(self, options: PrimitiveOptions | None, kwargs: dict[str, Any], name: str) -> None:
        self._options = resolve_options(options, kwargs)
        self._check_options(self._options)
        self._runtime = Runtime(self._options, name)
        # A primitive dropped without close() still gives its session's device back.
        weakref.finalize(self, self._runtime.close)

    def _check_options(self, options: PrimitiveOptions) -> None:
        """Refuse options this primitive cannot honour (before a session opens)."""

    @property
    def options(self) -> PrimitiveOptions:
        """The options this primitive was built with."""
        return self._options

    @property
    def runtime(self) -> Runtime:
        """Session, compile cache and run counter (``runtime.run_count``)."""
        return self._runtime

    def close(self) -> None:
        """Finish queued runs and release the scheduler session."""
        self._runtime.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
