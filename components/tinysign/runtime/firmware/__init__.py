"""The machinery of ``tinysign firmware`` (the stage's story is in ``tinysign/firmware.py``).

* :mod:`.stream` — the camera stream the firmware plays under QEMU (any frames, clips marked);
* :mod:`.codegen` — the generated sources that make ``firmware/src`` this model's firmware;
* :mod:`.protocol` — the console protocol, defined once: the C header and the parser;
* :mod:`.build` — tools, absolute paths, ``firmware/Makefile``, ``qemu-system-arm``;
* :mod:`.reference` — Python tflite-micro and the Python recognizer on the same stream;
* :mod:`.compare` — the console against the reference (outputs, emissions, the first op that differs);
* :mod:`.measure` — flash and RAM from the ELF, instructions per frame from the console.

The boards (cores, parts, clocks, QEMU machines) are :mod:`tinysign.runtime.boards`, shared with ``mcu``.
"""
