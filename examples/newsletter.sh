#!/usr/bin/env bash
# A newsletter (seed §4.1): a box with a free, permissioned read gate; the
# recipients are on its allow-list.
source "$(dirname "$0")/common.sh"
NEWS="weekly_$RUN"

say "alice starts a newsletter: only she writes, only listed readers read"
u box create "$NEWS" --from dev:alice
u box gate "$NEWS" --kind read --template owner-or-listed --from dev:alice
u box push "$NEWS" --text "issue 1: hello, readers" --from dev:alice

say "bob subscribes (alice adds him to the allow-list)"
u box allow "$NEWS" dev:bob --from dev:alice
u box pull "$NEWS" --from dev:bob

say "carol is not on the list"
refused box pull "$NEWS" --from dev:carol

say "nobody else may write to it"
refused box push "$NEWS" --text "spam" --from dev:carol

say "what it costs: reading is free for listed readers"
u box inspect "$NEWS" --caller dev:bob
