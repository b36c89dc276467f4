"""Tiny LLaVA-shaped vision-language models built offline: the VQA test bed and demo.

:func:`build_vlm_pair` writes two Hugging Face model folders that lm-eval's ``hf-multimodal``
model loads like any hub model (``AutoModelForImageTextToText`` + ``AutoProcessor``):

- ``base``: a ``LlavaForConditionalGeneration`` with random weights — a 2-layer CLIP vision
  tower on 16×16 images (patches of 8, so 4 image tokens per image), a projector and a 2-layer
  Llama — and a ``LlavaProcessor`` whose byte-level BPE tokenizer is trained in memory
  (:func:`medpair_tasks.tinymodels.train_tokenizer`) and has the special token ``<image>``;
- ``medical``: the same model after a few optimiser steps on image + medical-text pairs, so
  that the two models really differ, as a medical model and its base do.

Everything is seeded: the same call gives the same weights on the same machine.
"""

from __future__ import annotations

import logging
from pathlib import Path

from medpair_tasks.tinymodels import CORPUS, MEDICAL_TEXT, train_and_save, train_tokenizer
from medpair_tasks.torchrng import own_torch_rng
from medpair_tasks.vqa.records import IMAGE_PLACEHOLDER

log = logging.getLogger(__name__)

IMAGE_SIZE = 16
PATCH_SIZE = 8
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2

VQA_TEXT = (
    "<image>\nQuestion: Is there a pleural effusion?\nA. yes\nB. no\nAnswer: A",
    "<image>\n**Question** - Which is bigger, liver or spleen? || A. liver; B. spleen || **Answer**: B",
    "<image>\n### Findings:\npneumothorax present\n### Question:\nIs the lung collapsed?\nA) yes\nB) no\n### Answer: A",
)


@own_torch_rng
def build_vlm_base(out: Path, seed: int = 0) -> Path:
    """Write the random-weight tiny LLaVA model and its processor to ``out``."""
    import torch
    from transformers import (
        CLIPImageProcessorPil,
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    tokenizer = train_tokenizer(CORPUS + MEDICAL_TEXT + tuple(t.replace(IMAGE_PLACEHOLDER, "") for t in VQA_TEXT))
    tokenizer.add_special_tokens({"additional_special_tokens": [IMAGE_PLACEHOLDER]})
    image_token_id = tokenizer.convert_tokens_to_ids(IMAGE_PLACEHOLDER)
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token, which the "default" strategy drops
        chat_template=tokenizer.chat_template,
    )
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, projection_dim=16,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=image_token_id, image_seq_length=IMAGE_TOKENS,
        vision_feature_layer=-1, vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


@own_torch_rng
def build_vlm_medical(base: Path, out: Path, steps: int = 20, seed: int = 0) -> Path:
    """Write ``base`` after ``steps`` AdamW steps on :data:`VQA_TEXT` with random images."""
    import numpy as np
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    processor = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base)
    images = [Image.fromarray(rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)) for _ in VQA_TEXT]
    batch = processor(text=list(VQA_TEXT), images=images, return_tensors="pt", padding=True)
    image_token_id = processor.tokenizer.convert_tokens_to_ids(IMAGE_PLACEHOLDER)
    labels = batch["input_ids"].masked_fill((batch["attention_mask"] == 0) | (batch["input_ids"] == image_token_id), -100)
    train_and_save(model, dict(batch), labels, steps, out, processor, "medical VLM sibling")
    return out


def build_vlm_pair(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Build (or reuse) ``root/base`` and ``root/medical`` tiny VLMs; returns their paths."""
    base, medical = root / "base", root / "medical"
    if not (base / "config.json").is_file():
        build_vlm_base(base, seed=seed)
    if not (medical / "config.json").is_file():
        build_vlm_medical(base, medical, seed=seed)
    return base, medical
