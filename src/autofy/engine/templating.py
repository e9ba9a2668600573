"""Step configuration templates: Jinja2 in its sandbox, strict about undefined values, and bounded.

Only strings are rendered, recursively through dicts and lists. A string that is exactly one
`{{ expression }}` keeps the expression's own type (a number stays a number, a list a list), so
`"{{ steps.search_emails.messages }}"` passes a list on, not its text. Everything else renders to
text. Rendering never reaches Python internals: the sandbox refuses attributes such as `__class__`,
unsafe calls and changes to values (`list.append`), and both that and a reference to something
that does not exist become a `TemplateError` naming the field and the cause.

A template cannot stall the server (docs/engine.md, "Template limits"):

- `render_off_loop` renders on a thread of its own pool, never on the event loop that serves HTTP,
  unless the value's templates are proven cheap: short in all, and made only of text and lookups
  (`{{ trigger.body.name }}`, `{{ steps[1]["id"] }}`: no filter, operator, call, test, loop or
  macro), whose work is then parsing a little text once, a few lookups and the size-bounded
  printing of what they find;
- a render has a time budget (`RENDER_TIME_BUDGET_SECONDS`) checked at every operation the sandbox
  sees and every item of `range`; past the budget and a grace period, the thread is interrupted;
- every operation that can multiply a size (`*`, `**`, `%`, `+`, `~`, `format`, `center`,
  `indent`, `replace`, `join`, `batch`, `lipsum`, str methods such as `ljust`...) is checked
  *before* it runs against `MAX_VALUE_SIZE`: a single huge C operation holds the GIL, and no thread
  or timer can stop it once started;
- the output counts against `MAX_RENDERED_SIZE` while it is produced, not after.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import inspect
import math
import re
import string
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

_SINGLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expression>.*?)\}\}\s*$", re.DOTALL)

# A step's whole configuration renders within this time...
RENDER_TIME_BUDGET_SECONDS = 1.0
# ... to at most this many characters (all fields together; JSON values counted as text)...
MAX_RENDERED_SIZE = 4_000_000
# ... and no single value a template builds or passes to a filter may be larger than this
# (characters, or items): room for a whole webhook body (1 MiB at most by default).
MAX_VALUE_SIZE = 2_000_000
# Everything a render writes out, captured blocks (`{% set x %}...{% endset %}`) and macro output
# included, stays below this many characters: bounds the memory a render can fill in its budget.
MAX_WRITTEN_SIZE = 10 * MAX_RENDERED_SIZE
# Integers stay below this many bits (a 30,000-digit number): `7 ** 10 ** 7` is refused unbuilt.
MAX_INTEGER_BITS = 100_000
# After the budget, the thread gets this long to notice on its own before it is interrupted.
_INTERRUPT_GRACE_SECONDS = 0.5
_YIELD_EVERY_SECONDS = 0.001
_LIPSUM_MAX_PARAGRAPHS = 100
_LIPSUM_MAX_WORDS = 1000
# Renders run here, not on the event loop; a few threads, so other thread work never waits on them.
_RENDER_THREADS = 4
# A value rendered on the event loop (lookups only) has at most this many characters of templates
# in all (the first render of a template also parses and compiles it)...
INLINE_SOURCE_CHARACTERS = 1024
# ... and the whole value writes at most this many characters there; past it, the render stops and
# the pool renders the value again, whole (rendering has no side effects).
INLINE_OUTPUT_CHARACTERS = 64 * 1024
_executor = ThreadPoolExecutor(max_workers=_RENDER_THREADS, thread_name_prefix="autofy-render")


class TemplateError(Exception):
    """A configuration value could not be rendered; the message says which one and why."""


class TemplateLimitExceeded(Exception):
    """A template went past a size or time limit (raised inside the sandbox, reported as a
    `TemplateError` naming the field)."""


class _RenderInterrupted(TemplateLimitExceeded):
    """Raised in a render thread from outside (`_RenderJob.interrupt`), hence no arguments."""

    def __init__(self) -> None:
        super().__init__(f"it took longer than {RENDER_TIME_BUDGET_SECONDS:g} s")


@dataclass
class _Budget:
    deadline: float
    output_left: int = MAX_RENDERED_SIZE
    written_left: int = MAX_WRITTEN_SIZE
    field_path: str = "configuration"
    # A printed value is weighed up to this size, no further.
    value_limit: int = MAX_RENDERED_SIZE

    yield_at: float = field(default_factory=lambda: time.monotonic() + _YIELD_EVERY_SECONDS)

    def tick(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise TemplateLimitExceeded(f"it took longer than {RENDER_TIME_BUDGET_SECONDS:g} s")
        if now > self.yield_at:
            # Hand the interpreter lock over (to the event loop's thread) every millisecond rather
            # than every 5 ms, Python's switch interval: requests wait less behind a long render.
            time.sleep(0)
            self.yield_at = now + _YIELD_EVERY_SECONDS

    def write(self, size: int) -> None:
        self.tick()
        self.written_left -= size
        if self.written_left < 0:
            raise TemplateLimitExceeded(f"it wrote more than {MAX_WRITTEN_SIZE:,} characters")

    def spend(self, size: int) -> None:
        self.output_left -= size
        if self.output_left < 0:
            raise TemplateLimitExceeded(
                f"the rendered configuration is larger than {MAX_RENDERED_SIZE:,} characters"
            )


class _NotCheap(Exception):
    """A render on the event loop went past `INLINE_OUTPUT_CHARACTERS`: the pool renders it."""


@dataclass
class _InlineBudget(_Budget):
    """The budget of a render on the event loop: small, and past it the render moves to the pool."""

    output_left: int = INLINE_OUTPUT_CHARACTERS
    written_left: int = INLINE_OUTPUT_CHARACTERS
    value_limit: int = INLINE_OUTPUT_CHARACTERS
    # On the loop's own thread, handing the interpreter lock over would only cost.
    yield_at: float = math.inf

    def write(self, size: int) -> None:
        if size > self.written_left:
            raise _NotCheap
        super().write(size)

    def spend(self, size: int) -> None:
        if size > self.output_left:
            raise _NotCheap
        super().spend(size)


_budget: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _tick() -> None:
    budget = _budget.get()
    if budget is not None:
        budget.tick()


# --- sizes ----------------------------------------------------------------------------------------


def size_of(value: Any, limit: int = MAX_VALUE_SIZE) -> int:
    """About how many characters `value` takes as text, counted only until it passes `limit`.

    A container counts its items (numbers, booleans and None one character each) and, once, the
    size of each distinct container inside it, times the number of times it appears: a value made
    of the same list repeated (`[x, x]` nested sixty times) is weighed in sixty steps, not 2**60.
    """
    if not isinstance(value, _CONTAINERS):
        return _leaf_size(value)
    weighed: dict[int, int] = {}  # container id -> its size
    opened: dict[int, tuple[int, list[Any]]] = {}  # its own size, and its parts still to add
    pending = [value]
    while pending:
        container = pending[-1]
        key = id(container)
        if key in weighed:
            pending.pop()
        elif key not in opened:
            items = [*container.keys(), *container.values()] if isinstance(container, Mapping) else container
            larger = [item for item in items if type(item) not in _ONE_CHARACTER]
            own = 2 + len(items) + sum(len(item) for item in larger if isinstance(item, str | bytes))
            if own > limit:
                return own
            rest = [item for item in larger if not isinstance(item, str | bytes)]
            opened[key] = (own, rest)
            pending.extend(item for item in rest if isinstance(item, _CONTAINERS))
        else:
            pending.pop()
            own, rest = opened.pop(key)
            for part in rest:
                # A container not weighed yet is one of its own ancestors (a cycle): too large.
                own += weighed.get(id(part), limit + 1) if isinstance(part, _CONTAINERS) else _leaf_size(part)
                if own > limit:
                    return own
            weighed[key] = own
    return weighed[id(value)]


_CONTAINERS = (Mapping, list, tuple, set, frozenset)
_ONE_CHARACTER = frozenset({int, float, bool, type(None)})


def _leaf_size(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, _TickingRange):
        return 2 + len(value)
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    return 8


def _refuse_if_larger(size: int, what: str, limit: int = MAX_VALUE_SIZE) -> None:
    if size > limit:
        raise TemplateLimitExceeded(f"{what} would be larger than {limit:,}")


def _check_printf_format(text: str) -> None:
    """`%`-style widths and precisions: `'%0100000000d' % 1` is refused, as is a `*` width."""
    for match in re.finditer(r"%(?:\([^)]*\))?[#0 +\-]*(\*|\d+)?(?:\.(\*|\d+))?", text):
        for number in match.groups():
            if number == "*":
                raise TemplateLimitExceeded("a '*' width in a format is not allowed")
            if number is not None:
                _refuse_if_larger(int(number), "a format width")


def _check_format_spec(text: str) -> None:
    """`str.format` specs: `'{:>1000000000}'` and widths given as arguments are refused."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format itself reports the malformed format
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise TemplateLimitExceeded("a width given as an argument in a format is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            _refuse_if_larger(int(number), "a format width")


def _check_binop(symbol: str, left: Any, right: Any) -> None:
    numbers = (int, float)
    if symbol == "*":
        if isinstance(left, numbers) and isinstance(right, numbers):
            if isinstance(left, int) and isinstance(right, int):
                _refuse_if_larger(left.bit_length() + right.bit_length(), "the product", MAX_INTEGER_BITS)
            return
        sequence, count = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(count, int):
            _refuse_if_larger(size_of(sequence) * max(count, 0), "the repeated value")
    elif symbol == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _refuse_if_larger(right * left.bit_length(), "the power", MAX_INTEGER_BITS)
    elif symbol == "%":
        if isinstance(left, str):
            _check_printf_format(left)
            _refuse_if_larger(len(left) + size_of(right), "the formatted text")
    elif symbol == "+" and not (isinstance(left, numbers) and isinstance(right, numbers)):
        _refuse_if_larger(size_of(left) + size_of(right), "the sum")


# --- bounded filters, globals and methods --------------------------------------------------------


def _check_filter(name: str, arguments: inspect.BoundArguments) -> None:
    given = arguments.arguments
    _refuse_if_larger(sum(size_of(value) for value in given.values()), f"the input of the '{name}' filter")
    if name == "center" and isinstance(given.get("width"), int):
        _refuse_if_larger(given["width"], "the centered text")
    elif name == "indent" and isinstance(given.get("s"), str):
        width = given.get("width", 4)
        indent = width if isinstance(width, int) else len(str(width))
        _refuse_if_larger(len(given["s"]) + indent * (given["s"].count("\n") + 1), "the indented text")
    elif name in ("batch", "slice"):
        count = given.get("linecount", given.get("slices"))
        if isinstance(count, int):
            _refuse_if_larger(count, f"the '{name}' count")
    elif name == "format" and isinstance(given.get("value"), str):
        _check_printf_format(given["value"])
    elif name == "replace":
        _check_replace(given.get("s"), given.get("old"), given.get("new"))
    elif name == "join":
        value, separator = given.get("value"), given.get("d", "")
        if isinstance(value, list | tuple) and isinstance(separator, str):
            _refuse_if_larger(size_of(value) + len(separator) * len(value), "the joined text")
    elif name == "wordwrap" and isinstance(given.get("s"), str):
        wrap = given.get("wrapstring") or "\n"
        lines = len(given["s"]) // max(int(given.get("width", 79)), 1) + 1
        _refuse_if_larger(len(given["s"]) + len(str(wrap)) * lines, "the wrapped text")
    elif name == "sum" and not isinstance(given.get("start", 0), int | float):
        raise TemplateLimitExceeded("'sum' adds numbers; join texts or lists with 'join' instead")


def _check_replace(text: Any, old: Any, new: Any) -> None:
    if isinstance(text, str) and isinstance(old, str) and isinstance(new, str):
        occurrences = text.count(old) if old else len(text) + 1
        _refuse_if_larger(len(text) + occurrences * max(len(new) - len(old), 0), "the replaced text")


def _bounded_filter(name: str, filter_function: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(filter_function)

    @functools.wraps(filter_function)  # keeps Jinja's pass_context/pass_eval_ctx marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        try:
            arguments = signature.bind(*args, **kwargs)
        except TypeError:
            return filter_function(*args, **kwargs)  # let the filter report its own misuse
        _check_filter(name, arguments)
        return filter_function(*args, **kwargs)

    return bounded


_STR_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})


def _check_method_call(method: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """The str methods whose result can be much larger than the string they are called on."""
    owner = getattr(method, "__self__", None)
    if not isinstance(method, types.BuiltinMethodType) or not isinstance(owner, str):
        return
    name = method.__name__
    if name in _STR_WIDTH_METHODS and args and isinstance(args[0], int):
        _refuse_if_larger(args[0], f"the result of {name}()")
    elif name == "expandtabs":
        tab_size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab_size, int):
            _refuse_if_larger(len(owner) + owner.count("\t") * tab_size, "the expanded text")
    elif name == "join" and args and isinstance(args[0], list | tuple):
        _refuse_if_larger(size_of(args[0]) + len(owner) * len(args[0]), "the joined text")
    elif name == "replace" and len(args) >= 2:
        _check_replace(owner, args[0], args[1])


class _TickingRange:
    """`range` for templates: as the sandbox's (at most 100,000 items), but each step of a loop over
    it checks the time budget, so nested loops cannot run on past it."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        _refuse_if_larger(len(self._range), "the range", MAX_RANGE)

    def __iter__(self) -> Iterator[int]:
        budget = _budget.get()
        for number in self._range:
            if budget is not None:
                budget.tick()
            yield number

    def __len__(self) -> int:
        return len(self._range)

    def __getitem__(self, index: int) -> int:
        return self._range[index]

    def __repr__(self) -> str:
        return repr(self._range)


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    _refuse_if_larger(n, "lipsum's paragraph count", _LIPSUM_MAX_PARAGRAPHS)
    _refuse_if_larger(max, "lipsum's word count", _LIPSUM_MAX_WORDS)
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def _checked_concat(parts: tuple[Any, ...]) -> str:
    """The `~` operator: each part's size is known before the text is built."""
    _tick()
    _refuse_if_larger(sum(size_of(part) for part in parts), "the joined text")
    return "".join(str(part) for part in parts)


class _BoundedCodeGenerator(CodeGenerator):
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # Jinja joins `a ~ b` with a runtime function the sandbox does not see; route it through
        # the environment, where the size is checked first (autoescape is off: no Markup join).
        self.write("environment.checked_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with every size-multiplying operation checked before it runs and
    the time budget checked at every operation (see the module's doc)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            finalize=self._finalize,
        )
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}
        self.globals["range"] = _TickingRange
        self.globals["lipsum"] = _lipsum
        self.checked_concat = _checked_concat

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # A plain dict rather than Jinja's ChainMap over the environment's globals: those are fixed
        # once the sandbox is built, and every render walks a template's globals twice.
        return {**self.globals, **(d or {})}

    @staticmethod
    def _finalize(value: Any) -> Any:
        # Every `{{ value }}` of a text template passes here before it becomes text.
        budget = _budget.get()
        size = size_of(value, budget.value_limit if budget is not None else MAX_RENDERED_SIZE)
        _refuse_if_larger(size, "the value", MAX_RENDERED_SIZE)
        if budget is not None:
            budget.write(size)
        return value

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        _check_method_call(__obj, args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _tick()
        return super().getitem(obj, argument)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatted = super().wrap_str_format(value)
        if formatted is None:
            return None
        template: str = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            _check_format_spec(template)
            _refuse_if_larger(
                len(template) + sum(size_of(a) for a in (*args, *kwargs.values())), "the formatted text"
            )
            return formatted(*args, **kwargs)

        return bounded


_environment = BoundedSandbox()


def environment() -> BoundedSandbox:
    """The sandbox templates render in, for checks that must see exactly what rendering sees."""
    return _environment


@lru_cache(maxsize=4096)
def _compile_text(source: str) -> Any:
    return _environment.from_string(source)


@lru_cache(maxsize=4096)
def _compile_expression(expression: str) -> Any:
    return _environment.compile_expression(expression, undefined_to_none=False)


def _render_string(source: str, context: Mapping[str, Any], budget: _Budget) -> Any:
    if "{" not in source:
        return source  # the common case: plain text, nothing to render
    single = _SINGLE_EXPRESSION.match(source)
    if single is not None and "{{" not in single.group("expression"):
        value = _compile_expression(single.group("expression").strip())(**context)
        if isinstance(value, Undefined):
            # A bare undefined name only fails when used; make it fail here, with its message.
            str(value)
        budget.spend(size_of(value, budget.output_left + 1))
        return value
    chunks = []
    for chunk in _compile_text(source).generate(**context):
        budget.spend(len(chunk))
        chunks.append(chunk)
    return "".join(chunks)


def _render(value: Any, context: Mapping[str, Any], path: str, budget: _Budget) -> Any:
    if isinstance(value, str):
        budget.field_path = path
        try:
            return _render_string(value, context, budget)
        except TemplateLimitExceeded as error:
            raise TemplateError(f"{path}: the template went past a limit ({error})") from None
        except UndefinedError as error:
            raise TemplateError(f"{path}: the template refers to an undefined value ({error})") from None
        except SecurityError as error:
            raise TemplateError(f"{path}: the template tried something not allowed ({error})") from None
        except TemplateSyntaxError as error:
            raise TemplateError(f"{path}: the template is not valid ({error.message})") from None
        except RecursionError:
            raise TemplateError(f"{path}: the template nests or recurses too deeply") from None
        except MemoryError:
            raise TemplateError(f"{path}: the template needs more memory than allowed") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as error:
            raise TemplateError(f"{path}: the template failed ({type(error).__name__}: {error})") from None
    if isinstance(value, Mapping):
        return {key: _render(item, context, f"{path}.{key}", budget) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context, f"{path}[{index}]", budget) for index, item in enumerate(value)]
    return value


def render(value: Any, context: Mapping[str, Any], *, path: str = "configuration") -> Any:
    """`value` with every string in it rendered over `context` (see the module's doc), within the
    time and size budgets, on the calling thread: from async code use `render_off_loop`."""
    budget = _Budget(deadline=time.monotonic() + RENDER_TIME_BUDGET_SECONDS)
    token = _budget.set(budget)
    try:
        return _render(value, context, path, budget)
    finally:
        _budget.reset(token)


def _templates(value: Any) -> Iterator[str]:
    """The strings in `value` that would be rendered (those with a `{` in them)."""
    if isinstance(value, str):
        if "{" in value:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _templates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _templates(item)


# What a template of lookups is made of: text, names, `.attribute`, `[key]` and constants.
_LOOKUP_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Const,
)


@lru_cache(maxsize=4096)
def _is_lookups(source: str) -> bool:
    """Whether `source` is made of lookups only: rendering it then costs a few lookups (each checked
    by the sandbox) and printing what they find (weighed first, within the inline budget). Anything
    that repeats or computes (loops, filters, operators, calls) is not."""
    try:
        tree = _environment.parse(source)
    except TemplateSyntaxError:
        return False  # the pool's render reports it
    return all(isinstance(node, _LOOKUP_NODES) for node in tree.find_all(nodes.Node))


def _render_inline(value: Any, context: Mapping[str, Any], path: str) -> Any:
    """`render` on the calling thread within the small inline budget; `_NotCheap` past it."""
    budget = _InlineBudget(deadline=time.monotonic() + RENDER_TIME_BUDGET_SECONDS)
    token = _budget.set(budget)
    try:
        return _render(value, context, path, budget)
    finally:
        _budget.reset(token)


@dataclass
class _RenderJob:
    """One render on the pool, which the event loop side can interrupt once it gave up on it."""

    value: Any
    context: Mapping[str, Any]
    path: str
    budget: _Budget | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread_id: int | None = None

    def run(self) -> Any:
        with self._lock:
            self._thread_id = threading.get_ident()
        self.budget = _Budget(deadline=time.monotonic() + RENDER_TIME_BUDGET_SECONDS)
        token = _budget.set(self.budget)
        try:
            return _render(self.value, self.context, self.path, self.budget)
        finally:
            _budget.reset(token)
            with self._lock:
                thread_id, self._thread_id = self._thread_id, None
                # An interruption that arrived too late to matter must not hit the pool's own code.
                _set_async_exception(thread_id, None)

    def interrupt(self) -> None:
        """Raise `TemplateLimitExceeded` in the thread at its next bytecode, if still rendering:
        for a loop the sandbox never sees (nested loops over data with nothing in their body)."""
        with self._lock:
            if self._thread_id is not None:
                _set_async_exception(self._thread_id, _RenderInterrupted)

    @property
    def field_path(self) -> str:
        return self.budget.field_path if self.budget is not None else self.path


def _set_async_exception(thread_id: int | None, exception: type[BaseException] | None) -> None:
    if thread_id is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception else None
        )


async def render_off_loop(value: Any, context: Mapping[str, Any], *, path: str = "configuration") -> Any:
    """`render`, on the render pool rather than the event loop, so a slow template never delays
    the requests the loop serves; a render past its budget ends as a `TemplateError`. Values whose
    templates are short lookups (`_is_lookups`) render here, without the thread hop."""
    templates = list(_templates(value))
    if not templates:
        return value
    if sum(map(len, templates)) <= INLINE_SOURCE_CHARACTERS and all(map(_is_lookups, templates)):
        try:
            return _render_inline(value, context, path)
        except _NotCheap:
            pass  # it prints more than a render on the loop may: the pool renders it again, whole
    job = _RenderJob(value, context, path)
    pending = asyncio.get_running_loop().run_in_executor(_executor, job.run)
    try:
        async with asyncio.timeout(RENDER_TIME_BUDGET_SECONDS + _INTERRUPT_GRACE_SECONDS):
            return await pending
    except TimeoutError:
        job.interrupt()
        raise TemplateError(
            f"{job.field_path}: the template went past a limit ({_RenderInterrupted()})"
        ) from None
    except TemplateLimitExceeded as error:  # the interruption landed outside `_render`'s handler
        raise TemplateError(f"{job.field_path}: the template went past a limit ({error})") from None
