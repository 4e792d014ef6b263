import json
import os


def init():
    global words
    if os.environ.get("STUB_FAIL_INIT"):
        raise RuntimeError("init() failed on purpose: STUB_FAIL_INIT is set")
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "words.json")) as f:
        words = json.load(f)


def run(raw_data):
    return [words[str(n)] for n in json.loads(raw_data)["data"]]
