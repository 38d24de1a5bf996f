#!/usr/bin/env python3
"""Drive scout-mcp with the official MCP Python SDK (a client that is not ours).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install mcp
    SCOUT_SSH_CONFIG=~/.ssh/config /tmp/v/bin/python scripts/interop-python.py HOST /some/dir

It initializes, lists the tools, then calls hosts, a directory listing, a file read (the first
regular file listed) and a query, printing each result.
"""
import asyncio
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def main(host: str, directory: str) -> None:
    binary = os.environ.get("SCOUT_BIN", "target/debug/scout-mcp")
    params = StdioServerParameters(command=binary, args=[], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            print("initialized:", init.protocol_version, init.server_info.name)
            print("tools:", [t.name for t in (await session.list_tools()).tools])
            calls = [
                {"target": "hosts"},
                {"target": f"{host}:{directory}"},
                {"target": f"{host}:{directory}", "query": "ls"},
            ]
            for args in calls:
                result = await session.call_tool("scout", args)
                print(f"{args} isError={result.is_error}")
                print("   " + result.content[0].text.strip().replace("\n", "\n   "))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2]))
