"""Number formatting: rounding, separators, currency, percentages, and reading numbers from text."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, Field

from autofy.connectors.sdk import Action, ConnectorContext, PermanentError, StrictModel

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥", "KRW": "₩"}


class FormatNumberInput(StrictModel):
    operation: Literal["round", "format", "currency", "percentage", "parse"] = Field(
        description="round (to `decimals`, halves away from zero), format (with separators), "
        "currency (with the currency's symbol), percentage (0.25 becomes 25%), parse (read a number "
        'written as text such as "1,234.50" or "€1.234,50").'
    )
    value: float | int | str = Field(description="The number, or text holding a number.")
    decimals: int = Field(default=2, ge=0, le=10, description="Digits after the decimal separator.")
    thousands_separator: str = Field(
        default=",", max_length=1, description="Between groups of thousands (empty for none)."
    )
    decimal_separator: str = Field(
        default=".", min_length=1, max_length=1, description="Between whole and fractional parts."
    )
    currency: str = Field(
        default="USD", min_length=3, max_length=3, description="currency: ISO 4217 code, e.g. EUR."
    )


class FormatNumberOutput(BaseModel):
    number: int | float = Field(description="The resulting number (whole when decimals is 0).")
    text: str = Field(description="The number written out as asked.")


def read_number(value: float | int | str, *, decimal_separator: str) -> Decimal:
    """A number from a number or from text with separators, currency signs and spaces."""
    if isinstance(value, int | float):
        return Decimal(str(value))
    kept = "".join(c for c in value if c.isdigit() or c in "-+" or c == decimal_separator)
    try:
        number = Decimal(kept.replace(decimal_separator, "."))
    except InvalidOperation:
        raise PermanentError(f"{value!r} does not contain a number") from None
    if not number.is_finite():
        raise PermanentError(f"{value!r} does not contain a number")
    return number


def write_number(number: Decimal, params: FormatNumberInput) -> str:
    grouped = f"{number:,.{params.decimals}f}"
    whole, _, fraction = grouped.partition(".")
    whole = whole.replace(",", params.thousands_separator)
    return f"{whole}{params.decimal_separator}{fraction}" if fraction else whole


def format_number(params: FormatNumberInput) -> FormatNumberOutput:
    source_separator = params.decimal_separator if params.operation == "parse" else "."
    number = read_number(params.value, decimal_separator=source_separator)
    if params.operation == "percentage":
        number *= 100
    rounded = number.quantize(Decimal(1).scaleb(-params.decimals), rounding=ROUND_HALF_UP)
    text = write_number(rounded, params)
    if params.operation == "currency":
        code = params.currency.upper()
        symbol = CURRENCY_SYMBOLS.get(code)
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        text = f"{sign}{symbol}{digits}" if symbol else f"{sign}{digits} {code}"
    elif params.operation == "percentage":
        text += "%"
    elif params.operation == "parse":
        text = str(rounded)
    return FormatNumberOutput(number=int(rounded) if params.decimals == 0 else float(rounded), text=text)


class FormatNumber(Action[FormatNumberInput, FormatNumberOutput]):
    name = "format_number"
    display_name = "Format number"
    description = (
        "Round a number, write it with thousands and decimal separators, as a currency amount or a "
        'percentage, or read a number out of text such as "$1,234.50".'
    )
    input_model = FormatNumberInput
    output_model = FormatNumberOutput

    async def run(self, ctx: ConnectorContext, params: FormatNumberInput) -> FormatNumberOutput:
        return format_number(params)
