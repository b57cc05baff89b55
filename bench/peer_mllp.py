"""The peer: the simplest MLLP receiver a user could write instead of revbridge (issue 16).

python-hl7's asyncio MLLP server, python-hl7 parse, one SQLite WAL ``synchronous=FULL`` commit per
message, then the ACK. No processing at all. bench/serve.py runs it in the same run as
``revbridge serve`` so the two are measured on the same machine at the same moment.

    .venv/bin/python bench/peer_mllp.py --port 2576 --db /tmp/peer.db
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3

import hl7
from hl7.mllp import start_hl7_server


async def serve(port: int, db: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS messages (control_id TEXT, type TEXT, body TEXT)")

    async def client(reader: hl7.mllp.HL7StreamReader, writer: hl7.mllp.HL7StreamWriter) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                conn.execute("BEGIN")
                conn.execute(
                    "INSERT INTO messages VALUES (?, ?, ?)",
                    (str(message["MSH.F10"]), str(message["MSH.F9"]), str(message)),
                )
                conn.execute("COMMIT")
                writer.writemessage(message.create_ack())
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    server = await start_hl7_server(client, "127.0.0.1", port)
    print(f"peer listening on {port}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.db))


if __name__ == "__main__":
    main()
