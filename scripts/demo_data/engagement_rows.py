"""The rows of the engagement ELT's production database (PostgreSQL ``prod``) for a plan: agences,
advisers (conseillers), young people (jeunes), feature flags, the engagement events streamed day
by day in time order (memory bounded by one day's events), and the partner-API and job logs the
ELT must never copy. Pure and deterministic: the same plan always gives the same rows, each table
from its own random stream; ``engagement.py`` writes them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from analytics.engagement.config import ENGAGEMENT_TIMEZONE, SQL_DIR
from analytics.engagement.events import EVENT_COLUMNS
from analytics.engagement.weeks import day_bounds_in_zone, zone

PROD_SCHEMA_SQL = SQL_DIR / "prod_schema.sql"
MIN_WEEKS = 12
DEFAULT_TIMEZONE = ENGAGEMENT_TIMEZONE

# (code_departement, code_region, city); the last agence gets no codes (unknown geography).
PLACES = (
    ("75", "11", "Paris"),
    ("93", "11", "Bobigny"),
    ("92", "11", "Nanterre"),
    ("69", "84", "Lyon"),
    ("38", "84", "Grenoble"),
    ("13", "93", "Marseille"),
    ("06", "93", "Nice"),
    ("33", "75", "Bordeaux"),
    ("59", "32", "Lille"),
    ("31", "76", "Toulouse"),
    ("44", "52", "Nantes"),
    ("67", "44", "Strasbourg"),
    ("2A", "94", "Ajaccio"),
    ("971", "01", "Pointe-a-Pitre"),
)
DISPOSITIFS = {
    "MILO": ("CEJ", "PACEA"),
    "POLE_EMPLOI": ("CEJ", "AIJ"),
    "POLE_EMPLOI_BRSA": ("BRSA",),
    "CONSEIL_DEPT": ("BRSA",),
}
STRUCTURES = tuple(DISPOSITIFS)
STRUCTURE_WEIGHTS = (0.5, 0.3, 0.12, 0.08)
# (categorie, action, nom, code) per user type.
EVENT_CATALOG = {
    "JEUNE": (
        ("Rendez-vous", "Consultation", "Liste des rendez-vous", "RDV_LISTE"),
        ("Action", "Création", "Action", "ACTION_CREEE"),
        ("Action", "Modification", "Statut", "ACTION_STATUT"),
        ("Message", "Envoi", "Message", "MESSAGE_ENVOYE"),
        ("Offre", "Consultation", "Offre d'emploi", "OFFRE_EMPLOI_CONSULTEE"),
        ("Offre", "Recherche", "Alternance", "OFFRE_RECHERCHE"),
        ("Démarche", "Création", "Démarche IA", "DEMARCHE_IA_CREEE"),
        ("Session", "Connexion", None, "CONNEXION"),
    ),
    "CONSEILLER": (
        ("Rendez-vous", "Création", "Rendez-vous individuel", "RDV_CREE"),
        ("Message", "Envoi", "Message", "MESSAGE_ENVOYE"),
        ("Action", "Création", "Action", "ACTION_CREEE"),
        ("Action", "Qualification", "SNP", "ACTION_QUALIFIEE"),
        ("Démarche", "Consultation", "Démarche IA", "DEMARCHE_IA_CONSULTEE"),
        ("Session", "Connexion", None, "CONNEXION"),
    ),
}
WEEKDAY_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 0.9, 0.35, 0.2)
MONDAY_MIDNIGHT_EVENTS = 3
SHARE_CONSEILLERS = 1 / 12
SHARE_CONSEILLERS_WITHOUT_AGENCE = 0.05
SHARE_JEUNES_WITHOUT_ADVISER = 0.02
SHARE_JEUNES_TRANSFERRED = 0.10
SHARE_NULL_ACTION = 0.03
SHARE_NULL_NOM = 0.02
SHARE_NULL_STRUCTURE = 0.02
SHARE_UNKNOWN_USER = 0.003
SHARE_DAYTIME = 0.85
FEATURES = (("DEMARCHES_IA", 0.25), ("RECHERCHE_OFFRES_V2", 0.10))
JOB_TYPES = ("NOTIFIER_RENDEZVOUS", "SUIVRE_FILE_EVENEMENTS", "NETTOYER_DONNEES")
PARTNERS = ("france-travail", "immersion", "diagoriente")
TABLE_COLUMNS = {
    "agence": ("id", "nom_agence", "code_departement", "code_region"),
    "conseiller": ("id", "id_agence", "email", "structure", "dispositif"),
    "jeune": ("id", "id_conseiller", "id_conseiller_initial", "structure", "dispositif"),
    "feature_flip": ("feature_tag", "email_conseiller"),
    "evenement_engagement": EVENT_COLUMNS,
    "log_api_partenaire": (
        "date",
        "id_utilisateur",
        "type_utilisateur",
        "partenaire",
        "methode",
        "chemin",
        "statut",
        "duree_ms",
    ),
    "log_job": ("job_type", "date_debut", "date_fin", "succes", "resultat"),
}


@dataclass(frozen=True)
class GenerationPlan:
    """What to generate; the same plan always gives the same rows."""

    seed: int = 42
    weeks: int = 16
    users: int = 5000
    events: int = 200_000
    start_monday: date = date(2024, 1, 1)
    timezone: str = DEFAULT_TIMEZONE

    def __post_init__(self) -> None:
        if self.weeks < MIN_WEEKS:
            raise ValueError(f"--weeks must be at least {MIN_WEEKS}, not {self.weeks}")
        if self.start_monday.weekday() != 0:
            raise ValueError(
                f"--start-monday must be a Monday, not {self.start_monday:%A} {self.start_monday}"
            )
        if self.users < 20:
            raise ValueError(f"--users must be at least 20, not {self.users}")
        if self.events < 0:
            raise ValueError("--events must be >= 0")
        zone(self.timezone)

    @property
    def days(self) -> list[date]:
        return [self.start_monday + timedelta(days=i) for i in range(7 * self.weeks)]

    @property
    def end_monday(self) -> date:
        return self.start_monday + timedelta(weeks=self.weeks)

    def rng(self, purpose: str) -> random.Random:
        """An independent, reproducible random stream per purpose (string seeds hash with SHA-512)."""
        return random.Random(f"{self.seed}:{purpose}")


@dataclass
class ReferenceData:
    """The reference tables' rows, and who generates events with what weight."""

    agences: list[tuple]
    conseillers: list[tuple]
    jeunes: list[tuple]
    feature_flips: list[tuple]
    event_users: list[tuple[str, str, str]] = field(default_factory=list)  # (id, type, structure)
    activity_cum_weights: list[float] = field(default_factory=list)


def build_reference_data(plan: GenerationPlan) -> ReferenceData:
    """Agences, advisers, young people and feature flags for the plan (small: held in memory)."""
    rng = plan.rng("reference")
    conseiller_count = max(10, round(plan.users * SHARE_CONSEILLERS))
    agences = build_agences(max(len(PLACES), conseiller_count // 15))
    conseillers = build_conseillers(rng, conseiller_count, [agence[0] for agence in agences])
    jeunes = build_jeunes(rng, plan.users - conseiller_count, conseillers)
    feature_flips = build_feature_flips(rng, conseillers)
    event_users = [(c[0], "CONSEILLER", c[3]) for c in conseillers] + [(j[0], "JEUNE", j[3]) for j in jeunes]
    activity = [
        min(rng.paretovariate(1.2), 50.0) * (3.0 if kind == "CONSEILLER" else 1.0)
        for _, kind, _ in event_users
    ]
    return ReferenceData(
        agences=agences,
        conseillers=conseillers,
        jeunes=jeunes,
        feature_flips=feature_flips,
        event_users=event_users,
        activity_cum_weights=list(accumulate(activity)),
    )


def build_agences(count: int) -> list[tuple]:
    """Agences spread over PLACES; the last one has no department or region code."""
    agences = []
    for i in range(count):
        department, region, city = PLACES[i % len(PLACES)]
        if i == count - 1:
            department = region = None
        agences.append((f"agence-{i + 1:04d}", f"Agence {city} {i // len(PLACES) + 1}", department, region))
    return agences


def build_conseillers(rng: random.Random, count: int, agence_ids: list[str]) -> list[tuple]:
    """Advisers, each in an agence but a few (the first one always without)."""
    conseillers = []
    for i in range(count):
        structure = rng.choices(STRUCTURES, STRUCTURE_WEIGHTS)[0]
        without_agence = i == 0 or rng.random() < SHARE_CONSEILLERS_WITHOUT_AGENCE
        conseillers.append(
            (
                f"conseiller-{i + 1:05d}",
                None if without_agence else rng.choice(agence_ids),
                f"conseiller.{i + 1:05d}@example.org",
                structure,
                rng.choice(DISPOSITIFS[structure]),
            )
        )
    return conseillers


def build_jeunes(rng: random.Random, count: int, conseillers: list[tuple]) -> list[tuple]:
    """Young people with a current and an initial adviser; the first one changed agence, the
    second one has no adviser now."""
    with_agence = [conseiller for conseiller in conseillers if conseiller[1] is not None]
    jeunes = []
    for i in range(count):
        current = rng.choice(with_agence) if rng.random() < 0.9 else rng.choice(conseillers)
        initial = current
        if i == 0 or rng.random() < SHARE_JEUNES_TRANSFERRED:
            # Transferred: the first adviser sat in another agence.
            for _ in range(20):
                candidate = rng.choice(with_agence)
                if candidate[1] != current[1]:
                    initial = candidate
                    break
        structure = current[3]
        current_id = None if i == 1 or rng.random() < SHARE_JEUNES_WITHOUT_ADVISER else current[0]
        jeunes.append(
            (f"jeune-{i + 1:06d}", current_id, initial[0], structure, rng.choice(DISPOSITIFS[structure]))
        )
    return jeunes


def build_feature_flips(rng: random.Random, conseillers: list[tuple]) -> list[tuple]:
    """The features some advisers have; a few are listed twice, as happens in production."""
    feature_flips = []
    for conseiller in conseillers:
        for tag, share in FEATURES:
            if rng.random() < share:
                feature_flips.append((tag, conseiller[2]))
                if rng.random() < 0.02:
                    feature_flips.append((tag, conseiller[2]))
    return feature_flips


def events_per_day(plan: GenerationPlan) -> list[int]:
    """How many events each day gets: fewer at weekends, slowly growing; sums to plan.events exactly."""
    weights = [
        WEEKDAY_WEIGHTS[day.weekday()] * (1 + 0.5 * i / len(plan.days)) for i, day in enumerate(plan.days)
    ]
    total = sum(weights)
    shares = [plan.events * weight / total for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: plan.events - sum(counts)]:
        counts[i] += 1
    return counts


def iter_events(
    plan: GenerationPlan, reference: ReferenceData, stats: Counter | None = None
) -> Iterator[tuple]:
    """The events, day by day in time order, with ids 1, 2, ...; memory bounded by one day's events."""
    rng = plan.rng("events")
    stats = stats if stats is not None else Counter()
    next_id = 1
    for day, count in zip(plan.days, events_per_day(plan), strict=True):
        start, end = day_bounds_in_zone(day, plan.timezone)
        day_ms = int((end - start).total_seconds() * 1000)
        at_midnight = min(MONDAY_MIDNIGHT_EVENTS, count) if day.weekday() == 0 else 0
        offsets = [0] * at_midnight + sorted(
            8 * 3_600_000 + rng.randrange(12 * 3_600_000)
            if rng.random() < SHARE_DAYTIME
            else rng.randrange(day_ms)
            for _ in range(count - at_midnight)
        )
        stats["events at Monday 00:00"] += at_midnight
        users = rng.choices(reference.event_users, cum_weights=reference.activity_cum_weights, k=count)
        for offset, (user_id, user_type, structure) in zip(offsets, users, strict=True):
            if rng.random() < SHARE_UNKNOWN_USER:
                user_id = f"jeune-inconnu-{rng.randrange(500):04d}"
                user_type = "JEUNE"
                stats["events of unknown users"] += 1
            categorie, action, nom, code = rng.choice(EVENT_CATALOG[user_type])
            if rng.random() < SHARE_NULL_ACTION:
                action = None
            if rng.random() < SHARE_NULL_NOM:
                nom = None
            if rng.random() < SHARE_NULL_STRUCTURE:
                structure = None
            stats["events with NULL action"] += action is None
            stats["events with NULL structure"] += structure is None
            yield (
                next_id,
                start + timedelta(milliseconds=offset),
                categorie,
                action,
                nom,
                user_id,
                user_type,
                structure,
                code,
            )
            next_id += 1


def iter_api_logs(plan: GenerationPlan, reference: ReferenceData) -> Iterator[tuple]:
    """Partner API calls: the kind of log that must never leave production."""
    rng = plan.rng("api_logs")
    first, _ = day_bounds_in_zone(plan.start_monday, plan.timezone)
    span_ms = plan.weeks * 7 * 86_400_000
    count = min(50_000, max(100, plan.events // 20))
    for offset in sorted(rng.randrange(span_ms) for _ in range(count)):
        user_id, user_type, _ = rng.choice(reference.event_users)
        status = rng.choices((200, 201, 400, 404, 500), (0.8, 0.1, 0.04, 0.04, 0.02))[0]
        yield (
            first + timedelta(milliseconds=offset),
            user_id,
            user_type,
            rng.choice(PARTNERS),
            rng.choice(("GET", "POST")),
            f"/v1/{rng.choice(('offres', 'rendez-vous', 'demarches'))}",
            status,
            rng.randrange(5, 3000),
        )


def iter_job_logs(plan: GenerationPlan) -> Iterator[tuple]:
    """One run of each batch job per day."""
    rng = plan.rng("job_logs")
    for day in plan.days:
        start, _ = day_bounds_in_zone(day, plan.timezone)
        for hour, job_type in enumerate(JOB_TYPES, start=2):
            began = start + timedelta(hours=hour, seconds=rng.randrange(600))
            success = rng.random() > 0.03
            yield (
                job_type,
                began,
                began + timedelta(seconds=rng.randrange(1, 900)),
                success,
                None if success else '{"erreur": "timeout"}',
            )


def table_rows(plan: GenerationPlan, reference: ReferenceData, stats: Counter) -> dict[str, Iterable[tuple]]:
    """The rows of each production table, by table, in TABLE_COLUMNS order (events are counted
    into ``stats`` as they stream)."""
    return {
        "agence": reference.agences,
        "conseiller": reference.conseillers,
        "jeune": reference.jeunes,
        "feature_flip": reference.feature_flips,
        "evenement_engagement": iter_events(plan, reference, stats),
        "log_api_partenaire": iter_api_logs(plan, reference),
        "log_job": iter_job_logs(plan),
    }


def reference_stats(reference: ReferenceData) -> Counter:
    """The cases the reference tables carry, by name."""
    agence_of = {c[0]: c[1] for c in reference.conseillers}
    return Counter(
        {
            "advisers without agence": sum(1 for c in reference.conseillers if c[1] is None),
            "young people without adviser": sum(1 for j in reference.jeunes if j[1] is None),
            "young people who changed agence": sum(
                1
                for j in reference.jeunes
                if agence_of.get(j[1] or "") != agence_of.get(j[2] or "") and j[1] is not None
            ),
            "advisers with DEMARCHES_IA": len(
                {email for tag, email in reference.feature_flips if tag == "DEMARCHES_IA"}
            ),
        }
    )
