"""The dialog engine: one input in, replies out, state kept in the database.

For each input it opens one unit of work whose first statement skips updates already
processed, locks the conversation's state row and reads who wrote with their accounts (a
`TurnSnapshot`, put on the flow's context); it creates the person on first contact, routes
to a flow and commits. A flow that fails rolls everything back and the person gets an
apology, so nothing is half-written. Inputs of one user are handled one after the other (an
in-process `TurnQueue` here, which also puts waiting turns in the platform's order, and
the state row lock across processes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from copy import deepcopy

from bot.handlers.context import Context, DialogRules, Services
from bot.handlers.router import Router, split_payload
from bot.handlers.turn_order import TurnQueue
from bot.i18n import SUPPORTED_LOCALES, Catalogues, pick_locale
from bot.menu import (
    EXITS,
    NO_KEYBOARD,
    label_key,
    main_menu,
    menu_button,
    standing_keyboard,
    word_key,
)
from bot.messages import TOO_LARGE, Incoming, Reply
from core.clock import Clock
from core.errors import DomainError
from core.model import Caller, ChannelIdentity, DialogState, Person
from core.photo_reading import PhotoRecognition
from core.ports import AbstractUnitOfWork, AbstractUnitOfWorkFactory, StoreUnavailable
from core.privacy import mask

log = logging.getLogger(__name__)


class Dialog:
    """Handles neutral inputs for every channel; built once in the composition root."""

    def __init__(
        self,
        uow_factory: AbstractUnitOfWorkFactory,
        clock: Clock,
        catalogues: Catalogues,
        router: Router,
        rules: DialogRules,
        word_payloads: Iterable[tuple[str, str]],
        services: Services | None = None,
        turns: TurnQueue | None = None,
    ) -> None:
        self._uow_factory = uow_factory
        self._clock = clock
        self._catalogues = catalogues
        self._router = router
        self._rules = rules
        self._services = services or Services()
        self.turns = turns or TurnQueue()
        """Who of a person's waiting turns runs next (public: tests hold a person's turn)."""
        self._words = self._build_words(word_payloads, word_key)
        self._exits = self._build_words(EXITS, label_key)

    def _build_words(
        self, word_payloads: Iterable[tuple[str, str]], key: Callable[[str], str]
    ) -> dict[str, str]:
        """Typed words → payload, in every language, so labels work as typed text."""
        words: dict[str, str] = {}
        for locale in SUPPORTED_LOCALES:
            t = self._catalogues.translator(locale)
            for message_id, payload in word_payloads:
                for word in t(message_id).split("|"):
                    if key(word):
                        words.setdefault(key(word), payload)
        return words

    async def handle(self, event: Incoming) -> list[Reply]:
        """Answer one input; never answers with nothing, and raises only StoreUnavailable:
        when the database cannot be reached nothing was kept (the update is not marked
        processed), so the channel can have the platform deliver it again."""
        async with self.turns.hold((event.channel, event.user_id), event.sequence):
            try:
                return await self._handle(event)
            except StoreUnavailable:
                raise
            except Exception:
                log.exception(
                    "flow failed for %s user %s update %s",
                    event.channel.value,
                    mask(event.user_id),
                    event.update_key,
                )
                t = self._catalogues.translator(pick_locale(event.locale))
                return [Reply(t("error.apology"), [[menu_button(t)]])]

    async def _recognise(self, event: Incoming) -> PhotoRecognition | None:
        """Read a photo before the conversation's transaction opens.

        Recognition takes up to a second; holding a transaction (on SQLite: the database)
        that long would stall everyone else, so the prior is read in a short transaction of
        its own and the reader runs with none open.
        """
        reader = self._services.photos
        if reader is None or event.photo is None:
            return None
        prior = None
        if self._router.photo_prior is not None:
            async with self._uow_factory() as uow:
                identity = await uow.persons.identity(event.channel, event.user_id)
                if identity is not None:
                    state = await uow.dialogs.load_for_update(event.channel, event.user_id)
                    prior = await self._router.photo_prior(
                        uow, identity, state, self._clock.now(), self._rules.readings
                    )
        return await reader.read(event.photo, prior)

    async def _handle(self, event: Incoming) -> list[Reply]:
        recognition = await self._recognise(event)
        now = self._clock.now()
        async with self._uow_factory() as uow:
            snapshot = await uow.begin_turn(event.channel, event.user_id, event.update_key, now)
            if snapshot is None:
                log.info("duplicate update %s on %s ignored", event.update_key, event.channel)
                return []
            state = snapshot.state
            identity, person, consent_version = await self._identify(uow, event, snapshot.caller)
            ctx = Context(
                event=event,
                uow=uow,
                t=self._catalogues.translator(pick_locale(person.locale, event.locale)),
                identity=identity,
                person=person,
                # A copy: the flow may change it in place, and what was loaded must stay
                # as it was to tell whether anything changed (fakes hand out their own).
                state=DialogState(state.channel, state.user_id, state.state, deepcopy(state.data)),
                accounts=snapshot.accounts,
                clock=self._clock,
                rules=self._rules,
                services=self._services,
                recognition=recognition,
                consented=consent_version == self._rules.consent_version,
            )
            loaded = state
            await self._route(ctx)
            await self._keep_keyboard(ctx)
            # Most turns (a balance, a list) leave the state as it was: skip the write.
            if ctx.state != loaded and not ctx.erased:
                await uow.dialogs.save(ctx.state, now)
            await uow.commit()
            return ctx.replies

    async def _identify(
        self, uow: AbstractUnitOfWork, event: Incoming, caller: Caller | None
    ) -> tuple[ChannelIdentity, Person, str | None]:
        """The identity, person and consent version of the sender, created on first contact."""
        if caller is None:
            identity = await uow.persons.create_person_with_identity(
                event.channel,
                event.user_id,
                event.profile_name,
                pick_locale(event.locale) if event.locale else None,
                self._clock.now(),
            )
            person = await uow.persons.get(identity.person_id)
            if person is None:  # just created in this transaction
                raise RuntimeError("identity without a person")
            return identity, person, None
        if not caller.identity.reachable:
            # They wrote to us, so they can be reached again.
            await uow.persons.set_reachable(caller.identity.id, True)
        return caller.identity, caller.person, caller.consent_version

    def _payload_of(self, ctx: Context) -> tuple[str | None, str]:
        event = ctx.event
        if event.payload:
            return split_payload(event.payload)
        text = (event.text or "").strip()
        if text.startswith("/"):
            command, _, argument = text[1:].partition(" ")
            command = command.split("@")[0].lower()
            name = self._router.commands.get(command)
            return (name or "unknown_command"), argument.strip()
        if not text:
            return None, ""
        payload = self._exits.get(label_key(text))
        if payload is None and ctx.step not in self._router.word_steps:
            payload = self._words.get(word_key(text))
        if payload is not None:
            return split_payload(payload)
        return None, ""

    async def _route(self, ctx: Context) -> None:
        if ctx.event.unsupported:
            too_large = ctx.event.unsupported in TOO_LARGE
            message = "error.photo_too_large" if too_large else "error.unsupported"
            ctx.say(ctx.t(message), main_menu(ctx.t))
            return
        if ctx.event.photo is not None and "photo" in self._router.actions:
            if await self._consented(ctx):
                await self._router.actions["photo"](ctx, "")
            else:
                # The photo itself cannot wait for consent; the reading prompt can.
                await self._router.actions["start"](ctx, "")
                ctx.data["resume"] = "read"
            return
        name, argument = self._payload_of(ctx)
        if name is not None and name in self._router.actions:
            await self._run(ctx, name, argument)
        else:
            handler = self._router.steps.get(ctx.step)
            if handler is not None and await self._consented(ctx):
                await handler(ctx)
            else:
                await self._router.actions["unknown"](ctx, "")
        # A flow may hand over to another action in the same turn (what was asked for
        # before consent; a question asked again); a few hops at most, never a loop.
        for _ in range(3):
            if ctx.follow is None:
                break
            name, argument = split_payload(ctx.follow)
            ctx.follow = None
            if name in self._router.actions:
                await self._run(ctx, name, argument)

    async def _run(self, ctx: Context, name: str, argument: str) -> None:
        """Run an action; one that needs consent asks for it first and is resumed after."""
        if name in self._router.needs_consent and not await self._consented(ctx):
            await self._router.actions["start"](ctx, "")
            if name not in ("start", "menu"):
                ctx.data["resume"] = f"{name}:{argument}" if argument else name
            return
        try:
            await self._router.actions[name](ctx, argument)
        except DomainError as error:
            await self._router.actions["domain_error"](ctx, type(error).__name__)

    async def _keep_keyboard(self, ctx: Context) -> None:
        """Every reply carries the standing keyboard once consent is given, none before."""
        if not ctx.replies:
            return
        keyboard = standing_keyboard(ctx.t) if await self._consented(ctx) else NO_KEYBOARD
        for reply in ctx.replies:
            reply.keyboard = keyboard

    async def _consented(self, ctx: Context) -> bool:
        if ctx.consented is None:
            consent = await ctx.uow.persons.latest_consent(ctx.person.id)
            ctx.consented = consent is not None and consent.version == self._rules.consent_version
        return ctx.consented
