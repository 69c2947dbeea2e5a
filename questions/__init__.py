"""What a person can be asked: one :class:`~.base.Question` per kind of answer, which checks
an answer (bounded, linear), describes itself, summarizes an answer and gives its default.
Every surface (the ComfyUI tab, the inbox, the CLI) and every node reuses these. This file
imports nothing."""
