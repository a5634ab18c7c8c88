# Two entry points that work on a fresh Debian machine with only Python:
#   make run   — install everything, then start voxdesk
#   make test  — install everything, then lint, type-check and run the test suite
# Each installs what it needs: Debian packages (apt-get, as root or via sudo) and a .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# espeak-ng: offline voice; libportaudio2: microphone capture (sounddevice); libopus0: Discord
# voice (discord.py loads it to decode and encode); xvfb, xdotool: the real window in tests, on a
# virtual screen; the rest: what Qt needs to draw (offscreen in tests, X11 for the window)
APT_PACKAGES := espeak-ng libportaudio2 libopus0 xvfb xdotool libegl1 libgl1 libxkbcommon0 \
	libfontconfig1 libdbus-1-3 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 \
	libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 libxcb-xkb1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
ARGS ?=

.PHONY: run test lint bench bundle bundle-test system-deps clean

run: system-deps $(STAMP)
	$(BIN)/voxdesk $(ARGS)

test: system-deps $(STAMP) lint
	$(BIN)/pytest -n auto

lint: $(STAMP) $(VENV)/src/voxdesk
	$(BIN)/ruff check core bridge desktop tests bench docs
	$(BIN)/ruff format --check core bridge desktop tests bench docs
	$(BIN)/lint-imports
	$(BIN)/mypy

# mypy cannot follow the editable install's import hook: it reads the folders through links
# that spell the installed package, voxdesk.
$(VENV)/src/voxdesk: | $(STAMP)
	mkdir -p $@
	for d in core bridge desktop resources; do ln -sfn ../../../$$d $@/$$d; done

bench: system-deps $(STAMP)
	$(BIN)/python -m bench.stt
	$(BIN)/python -m bench.tts
	$(BIN)/python -m bench.record
	$(BIN)/python -m bench.dataset
	$(BIN)/python -m bench.bridge
	$(BIN)/python -m bench.voice_message
	$(BIN)/python -m bench.voice
	$(BIN)/python -m bench.evaluate
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.ui
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench.editor

# The app bundle (PyInstaller, one folder: build/dist/voxdesk; Voxdesk.app on macOS), and its
# smoke test: the command line everywhere, and on Linux the window under Xvfb, driven by xdotool.
# Minutes each, so not part of `make test`.
bundle: $(STAMP)
	$(BIN)/pyinstaller --noconfirm --log-level WARN --distpath build/dist \
		--workpath build/pyinstaller .ci/pyinstaller/voxdesk.spec

bundle-test: system-deps bundle
	$(BIN)/python .ci/pyinstaller/smoke.py build/dist/voxdesk

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:" $$missing; \
		$(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
