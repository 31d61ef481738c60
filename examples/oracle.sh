#!/usr/bin/env bash
# An oracle feed (seed §4.2): only the owner writes; reads are paid per access.
source "$(dirname "$0")/common.sh"
FEED="prices_$RUN"

say "alice publishes a price feed; each read costs 0.5 UMB"
u box create "$FEED" --from dev:alice
u box gate "$FEED" --kind read --template pay-per-access --price 0.5 --from dev:alice
u box push "$FEED" --text '{"pair":"UMB/USD","price":"1.07"}' --from dev:alice

say "bob reads it and pays; carol cannot write to it"
u box pull "$FEED" --from dev:bob
refused box push "$FEED" --text '{"price":"999"}' --from dev:carol

say "watching the feed: the next update arrives over WebSocket"
u box watch "$FEED" --count 1 --timeout 30 &
WATCH=$!
sleep 1
u box push "$FEED" --text '{"pair":"UMB/USD","price":"1.09"}' --from dev:alice
wait "$WATCH"
