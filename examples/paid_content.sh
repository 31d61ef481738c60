#!/usr/bin/env bash
# Paid content (seed §4.3): a listing anyone reads, and a pay-once gate that
# unlocks an item. The chain records the payment; the seller then delivers the
# item's key sealed to the buyer. Item bodies on chain are public, so what is
# sold is the key, never the ciphertext.
source "$(dirname "$0")/common.sh"
LIST="listing_$RUN"; ITEMS="items_$RUN"; BOB="bobbox_$RUN"

say "alice lists an item; the listing is free to read"
u box create "$LIST" --from dev:alice
u box push "$LIST" --text "item 0: the recipe, 2 UMB" --from dev:alice

say "the item box charges 2 UMB once per reader (95% to alice, 5% to the reward pool)"
u box create "$ITEMS" --from dev:alice
u box push "$ITEMS" --text "recipe (sealed copy delivered on payment)" --from dev:alice
u box gate "$ITEMS" --kind read --template pay-once --price 2 --from dev:alice
u box inspect "$ITEMS" --caller dev:bob

say "bob buys: his pull pays the gate"
u box pull "$ITEMS" --from dev:bob

say "a second pull is free: he already paid"
u box pull "$ITEMS" --from dev:bob

say "alice delivers the key sealed to bob, into bob's box"
u box register-key --from dev:bob
u box create "$BOB" --from dev:bob
u box gate "$BOB" --kind write --template anyone --from dev:bob
u box push "$BOB" --text "key: 3f9a…" --encrypt-to dev:bob --from dev:alice
u box pull "$BOB" --decrypt --from dev:bob
