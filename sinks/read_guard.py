"""The embedded reader's guard: what `readonly = 1` leaves open in chDB.

On the embedded engine (clickhouse-local inside the process) `readonly = 1` refuses writes, DDL,
settings and every table function that reaches outside (file, url, s3, hdfs, remote, executable,
mysql, python, ...). Three things stay open, with no setting or user profile to close them there
(measured on chDB 4.4): the scalar `file()` function and `INTO OUTFILE` (both read and write any
path: clickhouse-local ignores `user_files_path`), and several statements in one query (chDB runs
`SELECT 1; SELECT 2 INTO OUTFILE ...` whole). So each statement of the reader passes here first:
the engine's own parser checks it is one statement (`formatQuerySingleLine`, given the text as
data) and `EXPLAIN AST` of that one statement must hold neither; what is checked is what runs.
"""

from __future__ import annotations

import base64
from typing import Any

FILE_FUNCTIONS = frozenset({"file"})  # scalar functions that read the filesystem
REFUSED = 'the read-only reader refuses {} (docs/operations.md, "Security")'


class ReaderRefused(PermissionError):
    """A query the read-only reader does not run."""


def refusal(ast: str) -> str | None:
    """Why a statement's `EXPLAIN AST` text may not run, or None. A literal right under the root
    is a query's output file (`INTO OUTFILE`, its `COMPRESSION`); the read side never writes one."""
    for line in ast.splitlines():
        depth = len(line) - len(line.lstrip(" "))
        words = line.split()
        if not words:
            continue
        if depth == 1 and words[0] == "Literal":
            return "INTO OUTFILE"
        if words[0] == "Function" and len(words) > 1 and words[1] in FILE_FUNCTIONS:
            return f"the {words[1]}() function"
    return None


class GuardedConnection:
    """A chDB connection that runs only statements `refusal` lets through, as the engine formats them."""

    def __init__(self, conn: Any):
        self._conn = conn

    def _checked(self, sql: str | bytes, params: dict[str, Any] | None) -> str:
        text = sql.decode() if isinstance(sql, bytes) else sql
        quoted = base64.b64encode(text.encode()).decode()  # the query as data, never as code
        try:
            one = self._conn.query(f"SELECT formatQuerySingleLine(base64Decode('{quoted}'))", "TabSeparatedRaw")
        except Exception as error:
            if "Multi-statements" in str(error):
                raise ReaderRefused(REFUSED.format("several statements in one query")) from None
            raise  # a syntax error: the engine's own message
        statement = one.bytes().decode().removesuffix("\n")  # one line: the formatter escapes newlines
        ast = self._conn.query(f"EXPLAIN AST {statement}", "TabSeparatedRaw", params=params or {}).bytes().decode()
        reason = refusal(ast)
        if reason is not None:
            raise ReaderRefused(REFUSED.format(reason))
        return statement

    def query(self, sql: str | bytes, fmt: str = "CSV", params: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        return self._conn.query(self._checked(sql, params), fmt, params=params or {}, **kwargs)

    def send_query(
        self, sql: str | bytes, fmt: str = "CSV", params: dict[str, Any] | None = None, **kwargs: Any
    ) -> Any:
        return self._conn.send_query(self._checked(sql, params), fmt, params=params or {}, **kwargs)

    def __getattr__(self, name: str) -> Any:  # close() and the rest: the connection's own
        return getattr(self._conn, name)


def guard(client: Any) -> None:
    """Put the guard between a clickhouse-connect chDB client and its engine connection. Fails
    closed: a client whose connection is not where clickhouse-connect 1.x keeps it is refused."""
    handle = getattr(getattr(client, "_backend", None), "_handle", None)
    if handle is None or not hasattr(handle.conn, "query"):
        raise RuntimeError("cannot guard the embedded reader: clickhouse-connect's chDB client changed")
    handle.conn = GuardedConnection(handle.conn)
