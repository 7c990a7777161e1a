"""Which dtype `--precision` gives an encoder at inference."""

from __future__ import annotations

import pytest
import torch

from audioret.utils import numeric
from audioret.utils.numeric import inference_dtype


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bfloat16_only_where_the_device_has_it_natively(monkeypatch, native):
    monkeypatch.setattr(numeric, "native_bfloat16", lambda device: native)
    assert inference_dtype("auto") == (torch.bfloat16 if native else torch.float32)
    # an explicit choice is kept whatever the hardware
    assert inference_dtype("float32") == torch.float32
    assert inference_dtype("bfloat16") == torch.bfloat16


def test_an_unknown_precision_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="float16.*auto, float32, bfloat16"):
        inference_dtype("float16")


def test_torch_still_has_the_check_that_auto_relies_on():
    """Without it `native_bfloat16` answers False everywhere and indexing silently loses its bfloat16 speed."""
    assert isinstance(torch.ops.mkldnn._is_mkldnn_bf16_supported(), bool)
