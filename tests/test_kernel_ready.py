"""PromptKernelClient (coursetools.grading.kernel): ready once the kernel answered on both channels, and nothing lost."""
import asyncio

import pytest
from jupyter_client.manager import AsyncKernelManager

pytestmark = pytest.mark.slow


async def _first_cell(code):
    """Start a kernel, wait until the client is ready, run code; (the client's class, the IOPub stream text)."""
    manager = AsyncKernelManager(client_class="coursetools.grading.kernel.PromptKernelClient")
    await manager.start_kernel()
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        request = client.execute(code)
        text = ""
        while True:  # IOPub was connected when the client said so: the first cell's output is all there
            message = await client.get_iopub_msg(timeout=30)
            if message["parent_header"].get("msg_id") != request:
                continue
            if message["msg_type"] == "stream":
                text += message["content"]["text"]
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                return type(client).__name__, text
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def test_the_graders_kernel_manager_makes_prompt_clients(tmp_path):
    from coursetools.grading.kernel import PromptKernelClient, SandboxedKernelManager

    assert type(SandboxedKernelManager(work=str(tmp_path)).client()) is PromptKernelClient


def test_the_first_cell_after_ready_loses_no_output():
    kind, text = asyncio.run(_first_cell("print('first'); import sys; print('second', file=sys.stderr)"))
    assert kind == "PromptKernelClient"
    assert text == "first\nsecond\n"


def test_a_kernel_that_dies_before_it_answers_is_an_error():
    async def dead():
        manager = AsyncKernelManager(client_class="coursetools.grading.kernel.PromptKernelClient")
        await manager.start_kernel()
        await manager.shutdown_kernel(now=True)  # gone before anyone asked it anything
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=5)
        finally:
            client.stop_channels()

    with pytest.raises(RuntimeError):
        asyncio.run(dead())
