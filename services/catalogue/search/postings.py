"""The documents a term occurs in, as two compact arrays: document numbers (ascending) and values.

A dict of boxed ints and floats costs some 70 bytes a posting; two arrays cost 8, which keeps the
whole catalogue's postings to a few megabytes.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterator


class Postings:
    """Document numbers in ascending order, each with a float (BM25F's saturated frequency)."""

    __slots__ = ("_numbers", "_values")

    def __init__(self) -> None:
        self._numbers = array("i")
        self._values = array("f")

    def __len__(self) -> int:
        return len(self._numbers)

    def set(self, number: int, value: float) -> None:
        """Record `value` for document `number` (appending is the common, cheap case)."""
        numbers = self._numbers
        if not numbers or number > numbers[-1]:
            numbers.append(number)
            self._values.append(value)
            return
        position = bisect.bisect_left(numbers, number)
        if position < len(numbers) and numbers[position] == number:
            self._values[position] = value
        else:
            numbers.insert(position, number)
            self._values.insert(position, value)

    def discard(self, number: int) -> None:
        """Forget document `number`, if it is there."""
        position = bisect.bisect_left(self._numbers, number)
        if position < len(self._numbers) and self._numbers[position] == number:
            del self._numbers[position]
            del self._values[position]

    def items(self) -> Iterator[tuple[int, float]]:
        """(document number, value) pairs in ascending order of the numbers."""
        return zip(self._numbers, self._values, strict=True)
