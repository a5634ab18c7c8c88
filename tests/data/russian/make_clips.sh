#!/usr/bin/env bash
# Regenerates the Russian test clips: the shared corpus has no Russian recording, so these are
# synthesised from the known text in sentences.tsv with Festival's Russian voice
# (Debian: festival festvox-ru; msu_ru_nsh_clunits, built from a real speaker's recordings) and
# encoded as ogg/opus, the format of Discord voice messages. espeak-ng's Russian was tried first:
# Whisper base reads it at 63-87 % WER, so it says more about the voice than the recogniser.
set -euo pipefail
cd "$(dirname "$0")"
ffmpeg=${FFMPEG:-$(python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')}
tail -n +2 sentences.tsv | while IFS=$'\t' read -r file text; do
    tmp=$(mktemp --suffix=.txt); wav=$(mktemp --suffix=.wav)
    printf '%s' "$text" > "$tmp"
    text2wave -eval '(voice_msu_ru_nsh_clunits)' -o "$wav" "$tmp"
    "$ffmpeg" -v error -y -i "$wav" -ac 1 -ar 48000 -c:a libopus -b:a 32k "$file"
    rm -f "$tmp" "$wav"
done
