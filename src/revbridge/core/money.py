"""Money: an exact Decimal amount in one currency.

Amounts travel as Decimal in code and as integer minor units in the database. A float never
becomes Money: the constructor refuses it, so a stray ``json.loads`` without ``parse_float``
fails loudly instead of losing a cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

# ISO 4217 minor-unit exponents for the currencies a US health system or its tests meet.
CURRENCY_EXPONENT: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "CHF": 2,
    "MXN": 2,
    "JPY": 0,
    "KWD": 3,
}


class InexactAmount(ValueError):
    """An amount has more decimal places than its currency's minor unit."""


def exponent(currency: str) -> int:
    try:
        return CURRENCY_EXPONENT[currency]
    except KeyError:
        raise ValueError(f"unknown currency {currency!r}") from None


def to_decimal(value: str | int | Decimal) -> Decimal:
    """Read a decimal from text or an int; floats are refused because they are inexact."""
    if isinstance(value, bool | float):
        raise TypeError("money must not be built from a float or bool")
    if isinstance(value, Decimal):
        result = value
    else:
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            raise ValueError(f"not a decimal amount: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str = "USD"

    def __post_init__(self) -> None:
        # Runs for every amount an ERA reads and every sum the rules make: the common case first.
        amount = self.amount
        if type(amount) is not Decimal and not isinstance(amount, Decimal):
            raise TypeError(f"Money.amount must be Decimal, not {type(amount).__name__}")
        if not amount.is_finite():
            raise ValueError("Money.amount must be finite")
        if self.currency not in CURRENCY_EXPONENT:
            exponent(self.currency)

    @classmethod
    def of(cls, value: str | int | Decimal, currency: str = "USD") -> Money:
        return cls(to_decimal(value), currency)

    @classmethod
    def zero(cls, currency: str = "USD") -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def from_minor(cls, minor: int, currency: str = "USD") -> Money:
        return cls(Decimal(minor).scaleb(-exponent(currency)), currency)

    def to_minor(self) -> int:
        """Integer minor units; raises InexactAmount rather than round silently."""
        scaled = self.amount.scaleb(exponent(self.currency))
        if scaled != scaled.to_integral_value():
            raise InexactAmount(f"{self.amount} {self.currency} is not a whole number of minor units")
        return int(scaled)

    def is_exact(self) -> bool:
        scaled = self.amount.scaleb(exponent(self.currency))
        return scaled == scaled.to_integral_value()

    def rounded(self) -> Money:
        """Rounded to the minor unit, half to even (banker's rounding)."""
        quantum = Decimal(1).scaleb(-exponent(self.currency))
        return Money(self.amount.quantize(quantum, rounding=ROUND_HALF_EVEN), self.currency)

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        if isinstance(factor, float | bool):
            raise TypeError("money must not be multiplied by a float or bool")
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def __eq__(self, other: object) -> bool:
        # Decimal("1.0") == Decimal("1.00"): equal money regardless of the scale it was written in.
        if not isinstance(other, Money):
            return NotImplemented
        return self.currency == other.currency and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.currency, self.amount.normalize()))

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def total(amounts: list[Money] | tuple[Money, ...], currency: str = "USD") -> Money:
    result = Money.zero(amounts[0].currency if amounts else currency)
    for amount in amounts:
        result = result + amount
    return result
