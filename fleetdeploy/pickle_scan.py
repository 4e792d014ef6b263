"""What a model file would import and which scikit-learn saved it, read without unpickling it.

Loading a pickle runs whatever its opcodes name (`os.system`, `builtins.eval`): a model file is code.
Before a model is registered or shipped, this module reads each pickle-like file with a stand-in
unpickler whose every global is an inert stub, so nothing of the file's choosing is imported or called,
and reports:

- the globals it names (`sklearn.linear_model._ridge.Ridge`, `numpy.dtype`, ...), and those outside a
  known-safe list (the ML libraries' classes, numpy's array rebuilders, a few builtins) as `unsafe`;
- the `_sklearn_version` scikit-learn writes into every estimator's state, which must match the version
  the environment installs (scikit-learn only warns, `InconsistentVersionWarning`, at load time on the
  node, and a model from another version may predict wrongly).

Formats: plain pickles (protocols 0-5), joblib files (its arrays are raw bytes between opcodes, skipped
using each array wrapper's shape and dtype), joblib's zlib, gzip, bz2 and xz compression, and zip
archives holding pickles (PyTorch's `torch.save`). Files that are none of these (ONNX, JSON, text) are
not pickles and are skipped.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import gzip
import io
import lzma
import math
import pickle
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

_JOBLIB_WRAPPERS = {"joblib.numpy_pickle.NumpyArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"}

# Globals a model pickle may name. Whole packages only where their importable names are classes and
# rebuilders (not, e.g., numpy, whose testing helpers include one that runs a string).
_SAFE_PACKAGES = ("sklearn", "scipy", "xgboost", "lightgbm", "catboost", "pandas", "statsmodels", "imblearn")
_UNSAFE_PARTS = {"testing", "_testing", "f2py", "distutils", "conftest", "tests"}
_SAFE_GLOBALS = {
    "numpy.dtype", "numpy.ndarray", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.ma.core._mareconstruct",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__generator_ctor", "numpy.random.mtrand._rand", "numpy.core.numeric._frombuffer",
    "numpy._core.numeric._frombuffer",
    "numpy.random._pcg64.PCG64", "numpy.random._pcg64.PCG64DXSM", "numpy.random._mt19937.MT19937",
    "numpy.random._philox.Philox", "numpy.random._sfc64.SFC64", "numpy.random.bit_generator.SeedSequence",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence", "numpy.random._generator.Generator",
    "numpy.random.mtrand.RandomState",
    # dtypes passed as parameters (OneHotEncoder(dtype=np.float64)) and common ufuncs (FunctionTransformer)
    *(f"numpy.{kind}" for kind in (
        "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intc", "intp",
        "float16", "float32", "float64", "longdouble", "complex64", "complex128", "str_", "bytes_", "object_",
        "datetime64", "timedelta64",
        "log", "log1p", "log2", "log10", "exp", "expm1", "sqrt", "square", "abs", "absolute", "sign", "tanh",
        "sin", "cos", "arcsinh", "reciprocal", "negative", "floor", "ceil", "rint",
    )),
    "joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle_compat.NDArrayWrapper",
    "builtins.set", "builtins.frozenset", "builtins.slice", "builtins.range", "builtins.complex",
    "builtins.bytearray", "builtins.dict", "builtins.list", "builtins.tuple", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.str", "builtins.bytes", "builtins.object",
    "copyreg._reconstructor", "_codecs.encode", "collections.OrderedDict", "collections.defaultdict",
    "collections.deque", "datetime.datetime", "datetime.date", "datetime.timedelta", "datetime.timezone",
    "decimal.Decimal", "fractions.Fraction", "functools.partial", "uuid.UUID",
}
# Named so the report can say what a global does, beyond "not on the safe list".
_RUNS_CODE = {"os", "posix", "nt", "subprocess", "sys", "runpy", "importlib", "pty", "socket", "shutil",
              "webbrowser", "code", "codeop", "ctypes", "pickle", "_pickle", "marshal", "multiprocessing", "asyncio"}
_RUNS_CODE_BUILTINS = {"eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "__import__",
                       "globals", "locals", "vars", "input", "breakpoint", "help"}

_MAX_MEMBERS = 64  # pickles read from one zip archive
# The opcodes an old-protocol pickle (no PROTO header) can start with: a file starting otherwise is not one.
_TEXT_PROTOCOL_STARTS = {bytes([code]) for code in b"(.0123FIJKLMNPQRSTUVXcdeghijlnpqrstu}]\x81\x85\x86\x87"}


@dataclass
class PickleReport:
    """What one file would do when loaded; `format` is None for a file that is not a pickle."""

    path: str
    format: str | None = None
    imports: list[str] = field(default_factory=list)
    unsafe: list[str] = field(default_factory=list)
    sklearn_versions: list[str] = field(default_factory=list)
    error: str | None = None  # the scan could not finish (a truncated or unknown stream)

    def as_properties(self) -> dict:
        """The findings as a registered model records them."""
        return {key: value for key, value in {
            "pickle_format": self.format, "pickle_imports": self.imports, "pickle_unsafe_imports": self.unsafe,
            "sklearn_version": ", ".join(self.sklearn_versions) or None, "pickle_scan_error": self.error,
        }.items() if value}


def is_unsafe(name: str) -> bool:
    if name in _SAFE_GLOBALS:
        return False
    module = name.rsplit(".", 1)[0]
    parts = module.split(".")
    return parts[0] not in _SAFE_PACKAGES or bool(_UNSAFE_PARTS.intersection(parts))


def runs_code(name: str) -> bool:
    """A global known to run code or reach the system (the worst kind of unsafe)."""
    module, _, attr = name.rpartition(".")
    return module.split(".")[0] in _RUNS_CODE or (module == "builtins" and attr in _RUNS_CODE_BUILTINS)


def scan_file(path: Path) -> PickleReport:
    report = PickleReport(str(path))
    try:
        with open(path, "rb") as raw:
            head = raw.read(8)
            raw.seek(0)
            opened = _open_stream(head, raw, path)
            if opened is None:
                return report
            report.format, stream = opened
            if report.format == "zip":
                _scan_zip(path, report)
            else:
                _scan_stream(stream, report)
    except OSError as exc:
        report.error = f"cannot read it: {exc.strerror or exc}"
    return report


def scan_paths(paths: list[Path]) -> list[PickleReport]:
    """Every file under `paths` (files or folders) that is a pickle, in path order."""
    files = []
    for path in paths:
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    return [report for report in map(scan_file, files) if report.format is not None]


def _open_stream(head: bytes, raw, path: Path):
    if len(head) > 1 and head[0] == 0x80 and 0 < head[1] <= pickle.HIGHEST_PROTOCOL:
        return "pickle", raw
    if head[:2] == b"\x1f\x8b":
        return "pickle (gzip)", gzip.GzipFile(fileobj=raw)
    if head[:3] == b"BZh":
        return "pickle (bz2)", bz2.BZ2File(raw)
    if head[:6] == b"\xfd7zXZ\x00":
        return "pickle (xz)", lzma.LZMAFile(raw)
    if head[:1] == b"\x78" and (head[0] * 256 + head[1]) % 31 == 0:
        return "pickle (zlib)", io.BufferedReader(_ZlibReader(raw))
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        return "zip", None
    if head[:4] == b"\x04\x22\x4d\x18":
        return "pickle (lz4)", None
    if head[:1] and head[:1] in _TEXT_PROTOCOL_STARTS:
        return "pickle (protocol 0/1)", raw  # kept only if it reads as one (_scan_stream)
    return None


def _scan_zip(path: Path, report: PickleReport) -> None:
    with zipfile.ZipFile(path) as archive:
        members = [name for name in archive.namelist() if name.endswith((".pkl", ".pickle"))][:_MAX_MEMBERS]
        if not members:
            report.format = None  # a zip of something else (a saved Keras model, an ONNX bundle)
            return
        for name in members:
            with archive.open(name) as member:
                _scan_stream(io.BufferedReader(member), report, persistent_ids=True)


def _scan_stream(stream, report: PickleReport, *, persistent_ids: bool = False) -> None:
    if stream is None:
        report.error = f"{report.format}-compressed: cannot be read here"
        return
    reader = _StubUnpickler(stream, persistent_ids=persistent_ids)
    try:
        reader.load()  # one pickle: what pickle.load and joblib.load read; bytes after it are never run
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            RecursionError, MemoryError, OverflowError, zlib.error, lzma.LZMAError, OSError) as exc:
        report.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        if report.format == "pickle (protocol 0/1)" and not reader.globals:
            report.format, report.error = None, None  # a text file that merely starts like one
            return
    report.imports = sorted(set(report.imports) | reader.globals)
    report.unsafe = sorted(name for name in report.imports if is_unsafe(name))
    report.sklearn_versions = sorted(set(report.sklearn_versions) | reader.sklearn_versions)


class _Stub:
    """Whatever the pickle builds: takes any arguments and state, runs nothing."""

    _global = "?"

    def __new__(cls, *args, **kwargs):
        stub = object.__new__(cls)
        stub.args = args
        stub.state = None
        return stub

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass

    def add(self, value):
        pass


class _Reconstructor(_Stub):
    """copyreg._reconstructor(cls, base, state), how protocols 0 and 1 rebuild an object: the stub of
    `cls` (so joblib's array wrappers are recognised whatever the protocol)."""

    def __new__(cls, *args, **kwargs):
        if args and isinstance(args[0], type) and issubclass(args[0], _Stub):
            return args[0].__new__(args[0])
        return super().__new__(cls, *args)


class _StubUnpickler(pickle._Unpickler):
    """The pure-Python unpickler with find_class returning stubs: the opcodes are interpreted (so
    STACK_GLOBAL's names, memo references and joblib's array bytes are followed exactly), nothing is
    imported or called."""

    dispatch: ClassVar[dict] = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, *, persistent_ids: bool = False):
        super().__init__(file)
        self._source = file
        self.globals: set[str] = set()
        self.sklearn_versions: set[str] = set()
        self._stubs: dict[str, type] = {}
        self._persistent_ids = persistent_ids

    def find_class(self, module: str, name: str):
        if not all(part.isidentifier() for part in f"{module}.{name}".split(".")):
            raise pickle.UnpicklingError(f"not a global's name: {module!r} {name!r}")
        if self.proto < 3:  # Python 2 names, which the real unpickler maps as here (fix_imports)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        qualified = f"{module}.{name}"
        self.globals.add(qualified)
        if qualified == "copyreg._reconstructor":
            return _Reconstructor
        stub = self._stubs.get(qualified)
        if stub is None:
            stub = self._stubs[qualified] = type(name if name.isidentifier() else "stub", (_Stub,),
                                                 {"_global": qualified})
        return stub

    def persistent_load(self, pid):
        if not self._persistent_ids:
            raise pickle.UnpicklingError("the pickle refers to persistent ids outside it")
        return _Stub()

    def load_build(self):
        super().load_build()
        built = self.stack[-1]
        state = getattr(built, "state", None)
        if isinstance(state, dict):
            version = state.get("_sklearn_version")
            if isinstance(version, str):
                self.sklearn_versions.add(version)
        if isinstance(built, _Stub) and built._global in _JOBLIB_WRAPPERS and isinstance(state, dict):
            self._skip_joblib_array(state)
            self.stack[-1] = _Stub()

    dispatch[pickle.BUILD[0]] = load_build

    def _skip_joblib_array(self, wrapper: dict) -> None:
        """joblib writes an array's bytes right after its wrapper's BUILD (joblib/numpy_pickle.py
        NumpyArrayWrapper.write_array): a nested pickle for object arrays, else an optional padding
        byte and padding, then count * itemsize raw bytes."""
        itemsize, has_objects = _dtype_layout(wrapper.get("dtype"))
        if has_objects:
            nested = _StubUnpickler(self._source, persistent_ids=self._persistent_ids)
            nested.load()
            self.globals |= nested.globals
            self.sklearn_versions |= nested.sklearn_versions
            return
        if wrapper.get("numpy_array_alignment_bytes") is not None:
            padding = self.read(1)
            if not padding:
                raise EOFError("the file ends inside an array")
            self._skip(padding[0])
        shape = wrapper.get("shape") or ()
        self._skip(math.prod(int(size) for size in shape) * itemsize)

    def _skip(self, size: int) -> None:
        while size > 0:
            chunk = self.read(min(size, 1 << 20))
            if not chunk:
                raise EOFError("the file ends inside an array")
            size -= len(chunk)


def _dtype_layout(dtype) -> tuple[int, bool]:
    """(itemsize, holds Python objects) of a stubbed numpy.dtype: from its pickled state (elsize, flags)
    where numpy records them, else from its type string ('f8', '<U10', 'O8')."""
    if not isinstance(dtype, _Stub) or not dtype.args:
        raise pickle.UnpicklingError("a joblib array without a dtype")
    code = str(dtype.args[0])
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    flags = state[-1] if state and isinstance(state[-1], int) else 0
    has_objects = code.startswith("O") or bool(flags & 1)
    elsize = state[5] if len(state) > 5 and isinstance(state[5], int) else -1
    if elsize > 0:
        return elsize, has_objects
    kind, digits = code.lstrip("<>=|")[:1], code.lstrip("<>=|")[1:]
    if kind in ("b", "?") and not digits:
        return 1, has_objects
    size = int(digits) if digits.isdigit() else 0
    return (size * 4 if kind == "U" else size), has_objects


class _ZlibReader(io.RawIOBase):
    """A zlib stream (joblib's compress='zlib', its default) read as a file."""

    def __init__(self, raw):
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                self._pending = self._inflate.flush()
                if not self._pending:
                    return 0
                break
            self._pending = self._inflate.decompress(chunk)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
