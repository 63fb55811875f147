"""Routes an input to the flow that handles it.

Order: a pressed button's payload, a command or a section word, then the step the
conversation is in (a step that expects words of its own, such as a call-centre message,
gets every word except the ways out); anything left gets a hint and the menu, never silence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bot.handlers.context import Context
from core.photo_reading import ReadingPrior

Action = Callable[[Context, str], Awaitable[None]]
StepHandler = Callable[[Context], Awaitable[None]]
PhotoPriorHook = Callable[..., Awaitable["ReadingPrior | None"]]
"""(uow, identity, state, now, reading rules) → the prior for reading a photo."""


@dataclass
class Router:
    """Actions by payload name, step handlers by step name, words that mean an action."""

    actions: dict[str, Action] = field(default_factory=dict)
    steps: dict[str, StepHandler] = field(default_factory=dict)
    commands: dict[str, str] = field(default_factory=dict)
    needs_consent: set[str] = field(default_factory=set)
    word_steps: set[str] = field(default_factory=set)
    photo_prior: PhotoPriorHook | None = None

    def action(
        self, name: str, *, commands: tuple[str, ...] = (), consent: bool = True
    ) -> Callable[[Action], Action]:
        """Register a flow entered by the payload `name[:argument]` or a /command."""

        def register(function: Action) -> Action:
            if name in self.actions:
                raise ValueError(f"action {name!r} registered twice")
            self.actions[name] = function
            for command in commands:
                self.commands[command] = name
            if consent:
                self.needs_consent.add(name)
            return function

        return register

    def step(self, name: str, *, words: bool = False) -> Callable[[StepHandler], StepHandler]:
        """Register the handler of free input while the conversation is in step `name`.

        `words`: the step expects free text (a message, a name), so section words typed
        there are its input; only the ways out ("меню", "скасувати", a standing-keyboard
        button) still leave it. The step "" handles text typed while no step is open.
        """

        def register(function: StepHandler) -> StepHandler:
            self.steps[name] = function
            if words:
                self.word_steps.add(name)
            return function

        return register

    def include(self, other: Router) -> None:
        """Merge another module's router into this one."""
        for name in other.actions:
            if name in self.actions:
                raise ValueError(f"action {name!r} registered twice")
        self.actions.update(other.actions)
        self.steps.update(other.steps)
        self.commands.update(other.commands)
        self.needs_consent |= other.needs_consent
        self.word_steps |= other.word_steps
        self.photo_prior = self.photo_prior or other.photo_prior


def split_payload(payload: str) -> tuple[str, str]:
    """ "acc:12" → ("acc", "12"); "menu" → ("menu", "")."""
    name, _, argument = payload.partition(":")
    return name, argument
