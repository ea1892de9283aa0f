#!/bin/sh
# t_quant_ref.sh - the quantizers and fp16/bf16 conversions against an
# independent numpy implementation of ggml's reference rules
# (tests/ref_quant.py).  Byte-exact equality is required: no tolerance, every
# quantized byte and every dequantized float bit must match.  The C side is
# build/tests/test_types in its --quantize/--dequantize helper modes (built by
# `make check`; this script builds nothing).
. tests/lib.sh
if ! have_numpy; then
	skip quant_ref "no python3 with numpy (install python3-numpy)"
	exit 0
fi
if [ ! -x build/tests/test_types ]; then
	fail quant_ref "build/tests/test_types is missing (run make check)"
	exit 0
fi
"$PYTHON" tests/ref_quant.py build/tests/test_types "$TMP"
