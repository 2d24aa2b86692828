"""The inputs a text transformer's graph asks for, for one unpadded sample (batch 1)."""
import numpy as np


def text_feeds(input_names, ids):
    """input_ids, and attention_mask / token_type_ids / position_ids where the graph has them."""
    arr = np.asarray([ids], dtype=np.int64)
    feeds = {}
    if "input_ids" in input_names:
        feeds["input_ids"] = arr
    if "attention_mask" in input_names:
        feeds["attention_mask"] = np.ones_like(arr)
    if "token_type_ids" in input_names:
        feeds["token_type_ids"] = np.zeros_like(arr)
    if "position_ids" in input_names:
        feeds["position_ids"] = np.arange(len(ids), dtype=np.int64)[None, :]
    return feeds
