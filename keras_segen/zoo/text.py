"""What the ``list``, ``info`` and ``zoo`` commands print (kept out of cli.py, which only
declares arguments)."""
import json

from keras_segen.zoo import loading
from keras_segen.zoo.index import read_index


def human_bytes(count) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000.0
    return ""  # pragma: no cover


def human_count(count) -> str:
    if count >= 1e6:
        return f"{count / 1e6:.1f}M"
    if count >= 1e3:
        return f"{count / 1e3:.1f}K"
    return str(count)


def _headline_text(headline) -> str:
    if not headline:
        return "- (no weights here)"
    (key, values), = headline.items()
    shown = " ".join(f"{metric} {value:.4g}" for metric, value in values.items())
    return f"{shown} ({key.split('/', 1)[1]})"


def list_table(task=None) -> str:
    entries = read_index().get("entries", {})
    names = loading.list_models(task)
    header = ("name", "task", "dataset", "headline metrics", "params", "size", "license")
    rows = [header]
    for name in names:
        line = entries[name]
        rows.append((name, line["task"], line["dataset"], _headline_text(line["headline"]),
                     human_count(line["num_params"]),
                     human_bytes(line["size_bytes"]) if line["has_weights"] else "-",
                     line["license"]))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _scalars(values, indent="    ") -> list[str]:
    lines = []
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float):
            lines.append(f"{indent}{key:<34}{value:.5g}")
        elif isinstance(value, int):
            lines.append(f"{indent}{key:<34}{value}")
        elif isinstance(value, dict) and all(isinstance(v, (int, float, type(None)))
                                             for v in value.values()):
            shown = ", ".join(f"{k} {'n/a' if v is None else format(v, '.4g')}"
                              for k, v in value.items())
            lines.append(f"{indent}{key:<34}{shown}")
    return lines


def info_text(name) -> str:
    card = loading.get_card(name)
    data = card["dataset"]
    lines = [f"{card['name']}  ({card['task']}, {card['arch']})", f"  {card['description']}",
             "", "dataset:", f"  {data['name']} {json.dumps(data['options'])}",
             f"  splits: {', '.join(f'{k}={v}' for k, v in data['splits'].items())}",
             f"  protocol: {data['split_protocol']}", f"  license: {data['license']}"]
    if data.get("prepare"):
        lines.append(f"  prepare: {data['prepare']}")
    classes = card["classes"]
    if classes["names"]:
        lines += ["", f"classes ({classes['used_as']}): {', '.join(classes['names'])}"]
    lines += ["", f"input:  {card['input']['shape']} {card['input']['dtype']}, "
                  f"range {card['input']['value_range']}; {card['input']['preprocessing']}",
              f"output: {card['output']['shape']}: {card['output']['description']}",
              "", f"parameters: {card['num_params']:,}"]
    lines += ["", "metrics:"]
    if not card["metrics"]:
        lines.append("  none: no trained weights here")
    for key, values in card["metrics"].items():
        lines += [f"  {key}"] + _scalars(values)
    for key, values in card.get("baselines", {}).items():
        lines += [f"  baseline {key}"] + _scalars(values)
    lines += ["", f"files ({card['size_bytes']:,} bytes):"]
    lines += [f"  {f['path']:<48}{f['bytes']:>12,}  sha256 {f['sha256'][:16]}..."
              for f in card["files"]] or ["  none"]
    lines += ["", f"rebuild: {card['recipe']['command']}",
              f"train:   {card['recipe']['train_command']}"]
    if card["trained_with"]:
        lines += ["", "trained with:"] + [f"  {k}: {v}" for k, v in card["trained_with"].items()]
    license_ = card["license"]
    lines += ["", f"license: code {license_['code']}; weights {license_['weights']}; "
                  f"data {license_['data']}"]
    if card.get("url"):
        lines.append(f"url: {card['url']}")
    return "\n".join(lines)
