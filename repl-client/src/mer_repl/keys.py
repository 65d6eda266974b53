"""Key bindings of the REPL, beside prompt_toolkit's own (Ctrl-C cancels, Ctrl-D exits).

- Tab: open the completion menu, or go to its next entry.
- Ctrl-Space: open the completion menu without choosing an entry.
- F4: switch between Emacs and Vi editing.
"""

from __future__ import annotations

from prompt_toolkit.enums import EditingMode
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent


def build_key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("tab")
    def _complete_next(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.complete_state:
            buffer.complete_next()
        else:
            buffer.start_completion(select_first=True)

    @bindings.add("c-space")
    def _open_menu(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        if buffer.complete_state:
            buffer.complete_next()
        else:
            buffer.start_completion(select_first=False)

    @bindings.add("f4")
    def _toggle_vi(event: KeyPressEvent) -> None:
        vi = event.app.editing_mode == EditingMode.VI
        event.app.editing_mode = EditingMode.EMACS if vi else EditingMode.VI

    return bindings
