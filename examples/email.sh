#!/usr/bin/env bash
# Email on boxes (seed §4.1): an inbox anyone may write to and only the owner
# reads, an outbox, and an autoresponder gate that answers.
#
# What is public: every node sees who wrote to whom and when, and the size of
# each message. The bodies are HPKE-encrypted to alice's registered key, so
# only she can read them.
source "$(dirname "$0")/common.sh"
IN="inbox_$RUN"; OUT="outbox_$RUN"

say "alice creates her inbox and outbox, and registers her encryption key"
u box create "$IN" --from dev:alice
u box create "$OUT" --from dev:alice
u box register-key --from dev:alice
u box gate "$IN" --kind write --template anyone --from dev:alice
u box gate "$IN" --kind read --template owner-only --from dev:alice

say "bob writes to alice, encrypted to her key"
u box push "$IN" --text "lunch on friday?" --encrypt-to dev:alice --from dev:bob

say "alice reads and decrypts it"
u box pull "$IN" --decrypt --from dev:alice

say "bob may not read alice's mail (the read gate refuses him before anything is charged)"
refused box pull "$IN" --from dev:bob

say "alice goes on holiday: an autoresponder gate answers into her outbox"
u box gate "$IN" --kind write --template autoresponder --outbox "$OUT" \
  --reply " is away until monday" --from dev:alice
u box push "$IN" --text "are you there?" --encrypt-to dev:alice --from dev:carol
u box messages "$OUT"
