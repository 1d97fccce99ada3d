"""The one generic store: every resource's reads and writes go through this pipeline.

Theory of operation (upstream genericregistry.Store, reduced to its essentials):

    create:  structural decode -> defaults -> metadata -> strategy.prepare_for_create
             -> managedFields -> validate -> admission -> persist (KeyExists -> 409)
    update:  structural decode -> defaults -> carry server-owned metadata over
             -> strategy.prepare_for_update -> managedFields -> validate_update
             -> admission -> no-op check (keep RV) -> persist if revision matches
    patch:   current object -> apply patch -> same as update; retried on conflicts
             when the client gave no resourceVersion (GuaranteedUpdate)
    delete:  preconditions -> graceful period / finalizers (object stays with
             deletionTimestamp) -> or removal (Status or the object is returned)

Reads are served from the watch cache (apiserver/watchcache.py); writes go to
storage and come back into the cache through its storage watch. The strategy
(apiserver/registry) supplies the per-kind rules; admission plugins
(apiserver/admission.py) see every write before it is persisted. Dry-run runs
the whole pipeline and stops before storage.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from pocketkube.api import labels, schema, structural
from pocketkube.api.scheme import Resource
from pocketkube.apiserver import objectmeta
from pocketkube.apiserver.context import RequestContext
from pocketkube.apiserver.registry import strategy_for
from pocketkube.apiserver.strategy import Strategy
from pocketkube.apiserver.watchcache import Entry, WatchCache
from pocketkube.machinery import errors, fieldmanager, jsonvalue
from pocketkube.machinery.validation import meta as meta_validation
from pocketkube.storage import interface as storage

if TYPE_CHECKING:
    from pocketkube.apiserver.admission import Admission

log = logging.getLogger("pocketkube.apiserver.store")

Obj = dict[str, Any]
MAX_CONFLICT_RETRIES = 8
MAX_NAME_GENERATION_ATTEMPTS = 8


@dataclass
class ListOptions:
    label_selector: labels.Selector = ()
    field_selector: labels.FieldSelector = ()
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


class ResourceStore:
    """Reads and writes for one resource in its storage version."""

    def __init__(self, resource: Resource, *, store: storage.Store, cache: WatchCache,
                 admission: Admission) -> None:
        self.resource = resource
        self.strategy: Strategy = strategy_for(resource.group, resource.kind, resource.version)
        self.store = store
        self.cache = cache
        self.admission = admission
        name = schema.get_schema().name_for_gvk(resource.group, resource.version, resource.kind)
        if name is None:
            raise KeyError(f"no schema for {resource.group_version} {resource.kind}")
        self.definition = name
        self.node = schema.get_schema().root(name)
        self.prefix = resource.key_prefix

    # Whether objects are converted between the request version and the storage version.
    converts = False

    def present(self, obj: Obj) -> Obj:
        """The object as this resource's version shows it (storage version: as is)."""
        return obj

    async def patch(self, namespace: str, name: str, patch_type: str, patch_body: Any, ctx: RequestContext, *,
                    subresource: str = "", force: bool = False) -> tuple[Obj, bool]:
        from pocketkube.apiserver import patching

        return await patching.patch(self, namespace, name, patch_type, patch_body, ctx,
                                    subresource=subresource, force=force)

    # ------------------------------------------------------------------ reads
    def not_found(self, name: str) -> errors.StatusError:
        return errors.not_found_error(self.resource.plural, self.resource.group, name)

    async def sync_read(self, resource_version: str) -> None:
        """Honour resourceVersion semantics for a read served from the cache."""
        if resource_version == "":
            await self.cache.wait_fresh()
        elif resource_version != "0":
            try:
                rv = int(resource_version)
            except ValueError:
                raise errors.bad_request(f'invalid resource version "{resource_version}"') from None
            if not await self.cache.wait_for(rv):
                raise errors.timeout(f"Too large resource version: {rv}, current: {self.cache.revision}")

    def entry(self, namespace: str, name: str) -> Entry | None:
        return self.cache.cache(self.prefix).entries.get(self.resource.object_key(namespace, name))

    async def get(self, namespace: str, name: str, resource_version: str = "") -> Entry:
        await self.sync_read(resource_version)
        e = self.entry(namespace, name)
        if e is None:
            raise self.not_found(name)
        return e

    def matcher(self, opts: ListOptions) -> Callable[[Entry], bool]:
        lsel, fsel, strategy = opts.label_selector, opts.field_selector, self.strategy
        for field_name, _, _ in fsel:
            if strategy.field_value({"metadata": {}}, field_name) is None:
                raise errors.bad_request(f"field label not supported: {field_name}")
        if not lsel and not fsel:
            return lambda e: True

        def match(e: Entry) -> bool:
            o = e.obj
            if lsel and not labels.matches(lsel, o["metadata"].get("labels")):
                return False
            return not fsel or labels.field_matches(fsel, lambda f: strategy.field_value(o, f))

        return match

    # ------------------------------------------------------------------ create
    async def create(self, namespace: str, obj: Obj, ctx: RequestContext) -> Obj:
        """Create from a decoded body; returns the stored object (with its resourceVersion)."""
        self.decode(obj, ctx)
        objectmeta.set_namespace(obj, self.resource, namespace)
        return await self.create_decoded(obj, ctx)

    async def create_decoded(self, obj: Obj, ctx: RequestContext, *, subresource: str = "",
                             prepared: bool = False) -> Obj:
        generated = objectmeta.prepare_create_meta(obj, ctx.timestamp())
        self.strategy.prepare_for_create(obj)
        if not prepared:
            fieldmanager.update_managed_fields(None, obj, manager=ctx.manager(),
                                               api_version=self.resource.api_version, node=self.node,
                                               now=ctx.timestamp(), subresource=subresource)
        if not ctx.trusted:
            self.validate_create(obj)
        ctx.warnings.extend(self.strategy.warnings(obj))
        release = await self.admission.admit("CREATE", self.resource, obj, None, ctx)
        if ctx.dry_run:
            await release(False)
            return obj
        try:
            rev = await self.store_create(obj, retry_names=generated)
        except storage.KeyExists:
            await release(False)
            raise errors.already_exists(self.resource.plural, self.resource.group, obj["metadata"]["name"]) from None
        except BaseException:
            await release(False)
            raise
        await release(True)
        obj["metadata"]["resourceVersion"] = str(rev)
        return obj

    async def store_create(self, obj: Obj, *, retry_names: bool) -> int:
        """Write a new object; a name made from generateName that is taken gets a new random suffix and
        another try (upstream RetryGenerateName, GA in 1.32: eight attempts in all). The new name has the
        same length and alphabet, so validation and admission stand."""
        m = obj["metadata"]
        attempts = MAX_NAME_GENERATION_ATTEMPTS if retry_names else 1
        for attempt in range(1, attempts + 1):
            key = self.resource.object_key(m.get("namespace", ""), m["name"])
            try:
                return await self.store.create(key, self.encode(obj))
            except storage.KeyExists:
                if attempt == attempts:
                    raise
                m["name"] = objectmeta.generate_name(m["generateName"])
        raise AssertionError("unreachable")

    def validate_create(self, obj: Obj) -> None:
        errs = meta_validation.validate_object_meta(obj["metadata"], namespaced=self.resource.namespaced,
                                                    name_rule=self.strategy.name_rule)
        errs += self.strategy.validate(obj)
        if errs:
            raise errors.invalid_error(self.resource.kind, self.resource.group,
                                       obj["metadata"].get("name") or obj["metadata"].get("generateName", ""), errs)

    # ------------------------------------------------------------------ decode
    def decode(self, obj: Any, ctx: RequestContext, known: Obj | None = None) -> None:
        """Structural decode + defaults, with fieldValidation handling of unknown fields.

        `known` is the stored object `obj` was derived from (a patch's target): top-level
        fields still exactly as stored are already decoded and defaulted, so they are skipped
        (for a status patch: the whole spec).
        """
        if not isinstance(obj, dict):
            raise errors.bad_request(f"Object 'Kind' is missing in '{orjson.dumps(obj).decode()[:200]}'")
        objectmeta.check_type_meta(obj, self.resource, self.resource.api_version, self.resource.kind)
        skip = _unchanged_fields(obj, known) if known is not None else ()
        try:
            unknown = structural.decode(obj, self.definition, prune=True, skip=skip)
        except structural.TypeMismatch as e:
            raise self.cannot_handle(str(e)) from None
        self.handle_unknown(unknown, ctx)
        structural.apply_defaults(obj, self.definition, skip=skip)

    def cannot_handle(self, why: str) -> errors.StatusError:
        r = self.resource
        return errors.bad_request(f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: {why}')

    def handle_unknown(self, unknown: list[str], ctx: RequestContext) -> None:
        """fieldValidation for the unknown fields of this decode and the body's duplicate fields."""
        problems = [f'unknown field "{p}"' for p in unknown]
        problems += [f'duplicate field "{p}"' for p in ctx.duplicate_fields]
        ctx.duplicate_fields = []  # reported once, by the decode of the request body
        if not problems or ctx.field_validation == "Ignore":
            return
        if ctx.field_validation == "Strict":
            raise self.cannot_handle(f"strict decoding error: {', '.join(problems)}")
        ctx.warnings.extend(problems)

    def encode(self, obj: Obj) -> bytes:
        return orjson.dumps(objectmeta.strip_for_storage(obj))

    # ------------------------------------------------------------------ update
    async def update(self, namespace: str, name: str, obj: Obj, ctx: RequestContext, *,
                     subresource: str = "") -> tuple[Obj, bool]:
        """PUT: returns (object, created)."""
        self.decode(obj, ctx)
        objectmeta.set_namespace(obj, self.resource, namespace)
        body_name = obj["metadata"].get("name", "")
        if body_name != name:
            raise errors.bad_request(f"the name of the object ({body_name}) does not match the name on the URL "
                                     f"({name})")
        rv = obj["metadata"].get("resourceVersion", "")
        if not rv and not self.strategy.allow_unconditional_update:
            raise errors.invalid_error(self.resource.kind, self.resource.group, name, [
                errors.invalid("metadata.resourceVersion", 0, "must be specified for an update")])

        async def transform(current: Entry | None) -> Obj:
            return obj if current is None else orjson.loads(orjson.dumps(obj))

        return await self.guaranteed_update(namespace, name, transform, ctx, subresource=subresource,
                                            precondition_rv=rv, allow_create=self.strategy.allow_create_on_update)

    async def guaranteed_update(self, namespace: str, name: str,
                                transform: Callable[[Entry | None], Awaitable[Obj]], ctx: RequestContext, *,
                                subresource: str = "", precondition_rv: str = "",
                                allow_create: bool = False, prepared: bool = False) -> tuple[Obj, bool]:
        """Read-modify-write with retries on storage conflicts (upstream GuaranteedUpdate).

        `transform` gets the current entry (None if absent) and returns the desired object,
        already decoded and defaulted. `prepared` means it already ran managedFields (apply).
        """
        key = self.resource.object_key(namespace, name)
        await self.cache.wait_fresh()
        for _ in range(MAX_CONFLICT_RETRIES):
            current = self.cache.cache(self.prefix).entries.get(key)
            if current is None:
                if not allow_create:
                    raise self.not_found(name)
                new = await transform(None)
                if precondition_rv:
                    raise self.not_found(name)
                return await self.create_decoded(new, ctx, subresource=subresource, prepared=prepared), True
            if precondition_rv and precondition_rv != str(current.revision):
                raise errors.conflict(self.resource.plural, self.resource.group, name, errors.MODIFIED)
            new = await transform(current)
            try:
                return await self.write_update(current, new, ctx, subresource=subresource, prepared=prepared), False
            except storage.RevisionMismatch:
                if precondition_rv:
                    raise errors.conflict(self.resource.plural, self.resource.group, name, errors.MODIFIED) from None
                await self.cache.wait_fresh()
        raise errors.conflict(self.resource.plural, self.resource.group, name, errors.MODIFIED)

    async def write_update(self, current: Entry, new: Obj, ctx: RequestContext, *, subresource: str = "",
                           prepared: bool = False) -> Obj:
        """Apply the update rules to `new` (a private dict) against `current` and persist it."""
        old = current.obj
        name = old["metadata"]["name"]
        objectmeta.check_uid_precondition(new, old, self.resource, name)
        objectmeta.carry_over_meta(new, old)
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
            errs = self.strategy.validate_status_update(new, old)
        elif subresource == "finalize":
            self.strategy.prepare_for_finalize(new, old)
            errs = self.strategy.validate_finalize(new, old)
        elif subresource not in ("", "scale"):
            errs = []  # binding and similar narrow writes: the subresource already decided what changes
        else:
            self.strategy.prepare_for_update(new, old)
            errs = meta_validation.validate_object_meta(new["metadata"], namespaced=self.resource.namespaced,
                                                        name_rule=self.strategy.name_rule)
            errs += meta_validation.validate_object_meta_update(new["metadata"], old["metadata"])
            errs += self.strategy.validate_update(new, old)
        if not prepared:
            fieldmanager.update_managed_fields(old, new, manager=ctx.manager(), api_version=self.resource.api_version,
                                               node=self.node, now=ctx.timestamp(), subresource=subresource)
        if errs and not ctx.trusted:
            raise errors.invalid_error(self.resource.kind, self.resource.group, name, errs)
        ctx.warnings.extend(self.strategy.warnings(new, old))
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return current.copy()  # no-op: nothing is written, resourceVersion stays
        release = await self.admission.admit("UPDATE", self.resource, new, old, ctx)
        if ctx.dry_run:
            await release(False)
            return new
        try:
            if self.should_delete_during_update(new, old):
                rev, _ = await self.store.delete(current.key, expected_revision=current.revision)
            else:
                rev = await self.store.update(current.key, self.encode(new), expected_revision=current.revision)
        except BaseException:
            await release(False)
            raise
        await release(True)
        new["metadata"]["resourceVersion"] = str(rev)
        return new

    @staticmethod
    def should_delete_during_update(new: Obj, old: Obj) -> bool:
        """The last finalizer is gone from an object whose deletion has no grace left."""
        nm, om = new["metadata"], old["metadata"]
        return (not nm.get("finalizers") and "deletionTimestamp" in om
                and not om.get("deletionGracePeriodSeconds")  # none (a namespace) or 0
                and not (new.get("spec") or {}).get("finalizers"))  # namespaces hold on spec.finalizers


def _unchanged_fields(obj: Obj, known: Obj) -> frozenset[str]:
    """Top-level fields of `obj` (other than apiVersion/kind) whose values are exactly `known`'s."""
    return frozenset(k for k, v in obj.items()
                     if k not in ("apiVersion", "kind") and k in known and jsonvalue.same(v, known[k]))
