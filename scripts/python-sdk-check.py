#!/usr/bin/env python3
"""scout-mcp driven by the official MCP Python SDK (`mcp` 2.x from PyPI), in each of its modes.

Run by scripts/python-sdk (which makes a throwaway virtualenv and a throwaway fleet of local
sshd servers: hosts web, db and cache). By hand:

    scripts/with-fleet /path/to/venv/bin/python scripts/python-sdk-check.py

The SDK's `Client` connects the way a user's program would:

* mode="auto" probes with server/discover and must land on 2026-07-28 (no initialize);
* mode="legacy" performs the initialize handshake and must land on 2025-11-25;
* mode="2026-07-28" pins the stateless revision without a probe.

In each mode it lists and calls the tool (hosts, a file, a command with progress), lists and
reads resources, completes template arguments, sees a missing resource refused with the code
of its era, and abandons a slow call (the SDK sends notifications/cancelled) after which the
server still answers. The SDK validates every result against the negotiated revision, so a
missing resultType or cache hint fails here too. Ends with "N passed, N failed"; exits 1 if
any check failed.
"""

import os
import sys
import traceback

import anyio
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceTemplateReference

MODES = [("auto", "2026-07-28"), ("legacy", "2025-11-25"), ("2026-07-28", "2026-07-28")]
HOSTS = ["web", "db", "cache"]
HELLO = "hello from the throwaway fleet\n"
SLOW = "for i in 1 2 3 4 5 6; do echo line $i; sleep 0.2; done"

ROOT = os.environ.get("SCOUT_FLEET_ROOT", "")
BINARY = os.environ.get("SCOUT_BIN", "target/debug/scout-mcp")


def text_of(result):
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def modern(mode):
    return mode != "legacy"


async def check_era(c, mode, want):
    assert c.protocol_version == want, f"landed on {c.protocol_version}, wanted {want}"
    session = c.session
    if mode == "auto":
        assert session.discover_result is not None, "auto mode did not adopt server/discover"
        assert session.initialize_result is None, "auto mode fell back to initialize"
        assert want in session.discover_result.supported_versions
        assert session.discover_result.cache_scope == "public"
    if mode == "legacy":
        assert session.initialize_result is not None, "legacy mode did not initialize"
    if mode != "2026-07-28":
        # A pinned version sends no probe: the SDK knows neither identity nor capabilities.
        assert c.server_info is not None and c.server_info.name == "scout-mcp", c.server_info
        caps = c.server_capabilities
        assert caps.tools is not None and caps.resources is not None and caps.completions is not None


async def check_tools(c, mode, want):
    tools = await c.list_tools()
    assert [t.name for t in tools.tools] == ["scout"], tools
    assert tools.tools[0].output_schema, "no outputSchema"
    if modern(mode):
        assert tools.result_type == "complete", tools.result_type
        assert tools.cache_scope == "public" and tools.ttl_ms and tools.ttl_ms > 0, tools


async def check_call_hosts(c, mode, want):
    r = await c.call_tool("scout", {"target": "hosts"})
    assert not r.is_error, text_of(r)
    s = r.structured_content
    assert s["mode"] == "hosts", s
    assert sorted(h["alias"] for h in s["hosts"]) == sorted(HOSTS), s
    if modern(mode):
        assert r.result_type == "complete", r.result_type


async def check_call_read(c, mode, want):
    r = await c.call_tool("scout", {"target": f"web:{ROOT}/hello.txt"})
    assert not r.is_error and text_of(r) == HELLO, text_of(r)
    assert r.structured_content["mode"] == "read", r.structured_content


async def check_progress(c, mode, want):
    seen = []

    async def on_progress(progress, total, message):
        seen.append(progress)

    r = await c.call_tool("scout", {"target": "db:/", "query": SLOW}, progress_callback=on_progress)
    assert not r.is_error and text_of(r).endswith("line 6\n"), text_of(r)
    assert seen, "no notifications/progress reached the client"
    assert all(a < b for a, b in zip(seen, seen[1:])), f"not increasing: {seen}"


async def check_broadcast(c, mode, want):
    targets = [f"{h}:{ROOT}/hello.txt" for h in HOSTS]
    r = await c.call_tool("scout", {"targets": targets})
    assert not r.is_error, text_of(r)
    assert text_of(r).rstrip().endswith("3/3 succeeded ───"), text_of(r)
    assert r.structured_content["mode"] == "broadcast", r.structured_content


async def check_resources(c, mode, want):
    listed = await c.list_resources()
    uris = [str(r.uri) for r in listed.resources]
    assert "hosts://list" in uris and "web://docker" in uris, uris
    hosts = await c.read_resource("hosts://list")
    assert all(h in hosts.contents[0].text for h in HOSTS), hosts
    hello = await c.read_resource(f"scout://web{ROOT}/hello.txt")
    assert hello.contents[0].text == HELLO, hello
    same = await c.read_resource(f"db://{ROOT.lstrip('/')}/hello.txt")
    assert same.contents[0].text == HELLO, same
    if modern(mode):
        assert listed.cache_scope == "private", listed
        assert hello.ttl_ms == 0 and hello.cache_scope == "private", hello


async def check_missing_resource(c, mode, want):
    try:
        await c.read_resource("scout://ghost/etc/hosts")
    except MCPError as e:
        code = -32602 if modern(mode) else -32002
        assert e.error.code == code, f"code {e.error.code}, wanted {code}: {e.error.message}"
        return
    raise AssertionError("reading a resource of an unknown host succeeded")


async def check_completion(c, mode, want):
    templates = await c.list_resource_templates()
    uris = [t.uri_template for t in templates.resource_templates]
    assert "scout://{host}/{path*}" in uris and "web://{path*}" in uris, uris
    ref = ResourceTemplateReference(type="ref/resource", uri="scout://{host}/{path*}")
    hosts = await c.complete(ref, {"name": "host", "value": "d"})
    assert hosts.completion.values == ["db"], hosts
    ref = ResourceTemplateReference(type="ref/resource", uri="web://{path*}")
    prefix = ROOT.lstrip("/") + "/hel"
    paths = await c.complete(ref, {"name": "path", "value": prefix})
    assert any(v.endswith("hello.txt") for v in paths.completion.values), paths


async def check_cancellation(c, mode, want):
    try:
        await c.call_tool(
            "scout", {"target": "cache:/", "query": "sleep 30; echo never"}, read_timeout_seconds=1
        )
    except MCPError:
        pass  # the SDK gave up and told the server with notifications/cancelled
    else:
        raise AssertionError("a 30 s command answered within a 1 s timeout")
    r = await c.call_tool("scout", {"target": "cache:/", "query": "echo after"})
    assert text_of(r) == "after\n", text_of(r)


CHECKS = [
    check_era,
    check_tools,
    check_call_hosts,
    check_call_read,
    check_progress,
    check_broadcast,
    check_resources,
    check_missing_resource,
    check_completion,
    check_cancellation,
]


async def run_mode(mode, want, tally):
    env = dict(os.environ, SCOUT_COMMAND_POLICY="shell")
    params = StdioServerParameters(command=BINARY, args=[], env=env)
    async with Client(params, mode=mode) as c:
        for check in CHECKS:
            name = f"mode={mode}: {check.__name__[len('check_'):]}"
            try:
                with anyio.fail_after(60):
                    await check(c, mode, want)
            except Exception:
                tally["failed"] += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
            else:
                tally["passed"] += 1
                print(f"ok   {name}", flush=True)


async def main():
    import importlib.metadata

    print(f"mcp {importlib.metadata.version('mcp')} (Python SDK) against {BINARY}", flush=True)
    tally = {"passed": 0, "failed": 0}
    for mode, want in MODES:
        try:
            await run_mode(mode, want, tally)
        except Exception:
            tally["failed"] += 1
            print(f"FAIL mode={mode}: connect\n{traceback.format_exc()}", flush=True)
    print(f"{tally['passed']} passed, {tally['failed']} failed", flush=True)
    return 1 if tally["failed"] else 0


if __name__ == "__main__":
    if not ROOT:
        sys.exit(__doc__)
    sys.exit(anyio.run(main))
