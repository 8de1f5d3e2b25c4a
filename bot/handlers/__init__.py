"""Channel-neutral flows.

A handler takes `(Incoming, Conversation)`, changes the conversation
and queues replies with `conv.reply()`; it never imports a platform library. Which handler runs
for which update is decided in one place only: the route table in `bot/dispatch/routes.py`.
"""
