"""A stand-in for a ComfyUI 0.3.64 GPU node, speaking the real HTTP + WebSocket protocol.

Run it with ``python -m comfy_emulator --host 127.0.0.1 --port 0``; the first stdout line is
the port. Product code never imports this package: it is just another ComfyUI URL.

Fault SPEC (``--fault SPEC`` for every prompt, or ``extra_data.emulator_fault`` for one
prompt; the real server stores and ignores that key). Comma-separated items:

* ``error:<class_type>``  - the node of that class raises a permanent execution_error
  (loaders raise SafetensorError "header too small", ``RIFE VFI`` raises EOFError, like the
  recorded placeholder-model failures; other classes raise RuntimeError).
* ``oom:<class_type>``    - that node raises ``torch.OutOfMemoryError`` with the real TIPS text.
* ``crash:step=N``        - the process exits (os._exit) at the N-th progress update of a
  prompt (sampler steps, frame loops); ``crash`` alone means step 1.
* ``drop:step=N``         - every WebSocket is closed by the server at the N-th progress update;
  the prompt itself carries on.
* ``slow:S``              - wait S seconds (float) before ``execution_start``.

A per-prompt item may end in ``*N``: it fires for the first N prompts carrying it on this
server only (``oom:KSampler*1``: the first attempt fails, a retry there succeeds).

Example: ``--fault error:KSampler,slow:0.5`` or
``{"extra_data": {"emulator_fault": "drop:step=2"}}``.

``--model-load-seconds S``: a prompt whose checkpoint or motion module is not the one loaded
last waits S seconds (each) after ``execution_start``, as a real GPU loading the model does.

``--without-classes A,B``: those node classes are not loaded, as when a node pack failed to
import at start-up: /object_info leaves them out and a prompt naming one is refused as the real
server refuses an unknown class.

``GET /emulator/stats`` (not a ComfyUI path) returns
``{"prompts": {prompt_id: {"submitted", "rejected", "executed"}}, "queue_remaining": n,
"models": {"loaded", "loads", "seconds"}}``:
``submitted`` counts accepted POSTs naming that id, ``executed`` counts each time the
prompt started executing (a fully cached run counts too).
"""
