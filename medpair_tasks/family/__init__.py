"""The shape of a task family, and the machinery every family shares.

A task family (:mod:`medpair_tasks.knowledge`, :mod:`medpair_tasks.clinical`,
:mod:`medpair_tasks.vqa`) is a sub-package with the same five modules, each with one job:

============= =====================================================================================
module        what the family puts there
============= =====================================================================================
``records``   its item record: a frozen dataclass with a ``key`` (and ``as_doc(dataset, role)``,
              the lm-eval document, unless ``hooks`` builds documents itself)
``sources``   **read a source into items**: one reader function per dataset (release files →
              source splits of records), the table of datasets (one row each) and ``TABLE``, a
              :class:`~medpair_tasks.family.sources.SourceTable` over it
``roles``     **assign roles**: ``roles_from(name, splits)`` (val / test / few-shot pool) and
              ``BOOK``, a :class:`~medpair_tasks.family.roles.RoleBook` that applies it to
              ``TABLE``: ``BOOK.roles``, ``BOOK.scored_items``, ``BOOK.fewshot_items``
``hooks``     ``load(**metadata)``, lm-eval's ``custom_dataset``:
              :func:`~medpair_tasks.family.hooks.build_splits` over ``BOOK``
``taskfiles`` **build prompts and write task files**: a function returning every YAML of the
              family as text (its prompt templates among them), which ``task_yaml/_generate.py``
              writes
============= =====================================================================================

A family may keep more modules for what is its own (clinical truncation, VQA images). What
every family shares is here, once:

- :mod:`~medpair_tasks.family.sources`: the data folder, local and hub reading, errors that
  name the file at fault, the per-folder cache (:class:`~medpair_tasks.family.sources.SourceTable`);
- :mod:`~medpair_tasks.family.roles`: :class:`~medpair_tasks.family.roles.Roles`, the validation
  subsample, few-shot seeds and :class:`~medpair_tasks.family.roles.RoleBook`;
- :mod:`~medpair_tasks.family.fewshot` and :mod:`~medpair_tasks.family.sampler`: demonstrations
  that share no source with the scored item;
- :mod:`~medpair_tasks.family.hooks`: the ``eval`` / ``fewshot`` splits, answer choices,
  scoring and answer extraction of the multiple-choice tasks;
- :mod:`~medpair_tasks.family.taskfiles`: task, format and group files as text.

A new dataset in an existing family is one reader function and one row of its table: the
roles, the hooks and the task files follow from the table (the README's "Adding a dataset").
"""
