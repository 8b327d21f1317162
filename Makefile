# tinysign — `make help` lists every target. Variables: `make run data=DIR params=FILE.json`.
-include env.sh

python ?= python3.11
venv ?= .venv
bin := $(venv)/bin
tools ?= .venv-tools
image_targets ?= pipeline
target ?= vertex
cron ?= 0 3 * * 1
gpu ?=
package := pipelines/training_pipeline.yaml
out ?= runs/local
data ?= $(out)/demo-data
params ?=
pytest_args ?=
sudo := $(if $(filter 0,$(shell id -u)),,sudo)

.DEFAULT_GOAL := help
.PHONY: help install demo ingest extract train quantize evaluate mcu firmware firmware-deps report-deps run runs tensorboard test test-fast lint \
	bench bench-extract bench-train bench-quantize bench-scale bench-enroll bench-accuracy bench-robustness bench-spotting compile submit schedule \
	image push deploy undeploy clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

install: ## create .venv and install the package + pinned dependencies (requirements.lock)
	$(python) -m venv $(venv)
	$(bin)/pip install --quiet --upgrade pip==25.3
	$(bin)/pip install --quiet -c requirements.lock -e ".[dev]"
	$(python) -m venv $(tools)
	$(tools)/bin/pip install --quiet --upgrade pip==25.3
	$(tools)/bin/pip install --quiet -r infra/requirements-checkov.lock
	@echo "installed: activate with 'source $(venv)/bin/activate' or use 'make run' / 'make test'"

demo: ## generate the synthetic demo dataset into $(data)
	$(bin)/tinysign data demo --out $(data)

ingest: ## ingest + validate + balance + split $(data) -> $(out)/ingest
	$(bin)/tinysign ingest $(data) --out $(out)/ingest $(if $(params),--config $(params))

extract: ## Beam frame extraction -> $(out)/records
	$(bin)/tinysign extract --manifest $(out)/ingest/manifest.jsonl --out $(out)/records $(if $(params),--config $(params))

train: ## train on $(out)/records -> $(out)/train (rerun the same command to resume after a kill)
	$(bin)/tinysign train --records $(out)/records --out $(out)/train $(if $(params),--config $(params))

quantize: ## INT8 (PTQ|QAT: --set quantization=) + float32 TFLite -> $(out)/quantize
	$(bin)/tinysign quantize --model $(out)/train --records $(out)/records --out $(out)/quantize $(if $(params),--config $(params))

evaluate: ## INT8 vs float32 TFLite on the test split -> $(out)/evaluate
	$(bin)/tinysign evaluate --quant $(out)/quantize --records $(out)/records --out $(out)/evaluate $(if $(params),--config $(params))

mcu: ## INT8 model in tflite-micro: arena, flash, ops, MACs, C arrays, Vela -> $(out)/mcu
	$(bin)/tinysign mcu --quant $(out)/quantize --records $(out)/records --out $(out)/mcu $(if $(params),--config $(params))

firmware-deps: ## apt packages for the firmware: Arm GCC + newlib, qemu-system-arm (as root, or with sudo)
	$(sudo) apt-get update -q
	$(sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	  gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm

report-deps: ## apt package for the report's browser test: headless Chromium (as root, or with sudo)
	$(sudo) apt-get update -q
	$(sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium

firmware: ## the streaming pair + recognizer on emulated Cortex-M4F/M33/M7/M55 under QEMU -> build/firmware (targets="m4f m55"; tflm_build=DIR caches tflite-micro)
	$(bin)/tinysign firmware --quant $(out)/quantize --mcu $(out)/mcu --records $(out)/records --out build/firmware \
	  $(if $(targets),--targets $(targets)) $(if $(tflm_build),--tflm-build $(tflm_build)) $(if $(params),--config $(params))

run: ## the whole pipeline through kfp.local on the demo data (data=DIR, params=FILE; default pipelines/params/demo.json); a rerun is cached
	@test -d $(data) || $(MAKE) --no-print-directory demo
	$(bin)/python -m pipelines.local_run --data $(data) --out $(out) --params $(or $(params),pipelines/params/demo.json)

runs: ## the local pipeline runs side by side (target=local|vertex|kfp; compare="A B")
	$(bin)/tinysign runs --root $(out) $(if $(filter vertex kfp,$(target)),--target $(target)) $(if $(compare),--compare $(compare))

tensorboard: ## TensorBoard on every training run under $(out) (make run's and make train's); one run: logdir=DIR
	$(bin)/tensorboard --logdir $(or $(logdir),$(out))

compile: ## compile the KFP pipeline -> pipelines/training_pipeline.yaml (image $$IMAGE_URI or docker/image-uri.sh; gpu=NVIDIA_TESLA_T4)
	$(bin)/python -m pipelines.compile --output $(package) --image "$(or $(IMAGE_URI),$(shell docker/image-uri.sh pipeline))" $(if $(gpu),--train-accelerator $(gpu) --train-image "$(shell docker/image-uri.sh pipeline-gpu)")

submit: compile ## one run on target=vertex|kfp (env.sh; data=gs://BUCKET/videos params=FILE.json)
	$(bin)/tinysign submit --target $(target) --package $(package) --data $(data) $(if $(params),--params $(params))

schedule: compile ## recurring retraining on target=vertex|kfp, cron="0 3 * * 1" (tinysign schedule --list/--pause/--delete ID)
	$(bin)/tinysign schedule --target $(target) --package $(package) --cron "$(cron)" --data $(data) $(if $(params),--params $(params))

test: ## the full test suite (what CI runs)
	$(bin)/pytest $(pytest_args)

test-fast: ## tests without the slow end-to-end ones
	$(bin)/pytest -m "not slow" $(pytest_args)

lint: ## ruff (lint + format check), import contracts, hadolint (Dockerfile) and checkov (terraform + Dockerfile)
	$(bin)/ruff check components pipelines tests
	$(bin)/ruff format --check components pipelines tests
	$(bin)/lint-imports
	$(bin)/hadolint docker/Dockerfile
	$(tools)/bin/checkov --config-file infra/checkov.yaml --quiet

image: ## build the image(s) with docker|podman|buildah, tagged <version>-<git sha> (image_targets="pipeline pipeline-gpu dataflow")
	docker/build.sh $(image_targets)

push: ## push the image(s) to Artifact Registry ($$IMAGE_REPO from env.sh); refuses uncommitted (-dirty) builds
	docker/push.sh $(image_targets)

deploy: ## terraform apply infra/envs/$$DEPLOY_ENV (state in $$TF_STATE_BUCKET; needs terraform + env.sh)
	infra/deploy.sh apply

undeploy: ## terraform destroy infra/envs/$$DEPLOY_ENV
	infra/deploy.sh destroy

bench: bench-extract bench-train bench-quantize bench-scale ## all benchmarks

bench-extract: ## extraction clips/s vs OpenCV decode-only clips/s on the same clips, then clips/s per Beam runner (in-process, 2 processes, worker pool, Dask)
	$(bin)/python tests/benchmarks/bench_extract.py

bench-train: ## train-step time: folded vs TimeDistributed (tf-keras and Keras 3), steps/s per model
	$(bin)/python tests/benchmarks/bench_train.py

bench-quantize: ## INT8 vs float32 LiteRT latency + the MCU table (arena, flash, MACs) vs budgets
	$(bin)/python tests/benchmarks/bench_quantize.py

bench-enroll: ## few-shot enrollment on fsl105-dev, unseen signer, k=1/3/5 clips, vs raw-pixel and motion 1-NN: 10 new signs (model on 20), 15 new signs (model on 15) as the vocabulary grows 5/10/15
	$(bin)/python tests/benchmarks/bench_enroll.py

bench-accuracy: ## unseen-signer accuracy on fsl105-dev (30 signs, sign windows): LOSO, both models, seeds=N per fold, per category, baselines, agreement, MCU, issue targets (folds="1 2", ablations=1)
	$(bin)/python tests/benchmarks/bench_accuracy.py $(if $(seeds),--seeds $(seeds)) $(if $(folds),--folds $(folds)) $(if $(ablations),--ablations)

bench-robustness: ## bench-accuracy's LOSO models (trained if missing) on their test signer filmed by another camera: light, noise, framing, zoom, 15 fps, low resolution, clutter (seeds=N, folds=)
	$(bin)/python tests/benchmarks/bench_robustness.py $(if $(seeds),--seeds $(seeds)) $(if $(folds),--folds $(folds))

bench-spotting: ## live spotting on fsl105-dev streams of an unseen signer (recognizer by nested validation): recall, precision, false emissions, latency
	$(bin)/python tests/benchmarks/bench_spotting.py

bench-scale: ## 200/800/3,200 clips: time, clips/s, peak RSS per stage, exponents; beam_workers; input pipeline
	$(bin)/python tests/benchmarks/bench_scale.py

clean: ## remove local run outputs
	rm -rf runs
