#!/usr/bin/env bash
# Makes sure Debian's Chromium is there for the browser test (tests/test_ui_browser.py), with a
# colour emoji font so that screenshots show the app's icons and 👍/👎 buttons. Playwright cannot
# download its own browser builds here, so the test drives /usr/bin/chromium.
#
# Idempotent, and instant when both are installed. Never fails the build: without root, or when
# the install fails, it says why and exits 0, and the browser test skips with that reason.
set -uo pipefail

CHROMIUM=/usr/bin/chromium
EMOJI_FONT=/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf

if [[ -x "$CHROMIUM" && -f "$EMOJI_FONT" ]]; then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    if [[ ! -x "$CHROMIUM" ]]; then
        echo "ensure_browser: $CHROMIUM is missing and this is not root: the browser test will be skipped." >&2
        echo "ensure_browser: to run it: sudo apt-get update && sudo apt-get install -y chromium fonts-noto-color-emoji" >&2
    fi
    exit 0
fi

echo "ensure_browser: installing Debian's chromium and fonts-noto-color-emoji for the browser test (once)..." >&2
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null &&
    apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji >/dev/null; then
    echo "ensure_browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) is installed." >&2
else
    echo "ensure_browser: the install failed (see above): the browser test will be skipped." >&2
fi
exit 0
