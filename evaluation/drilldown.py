"""Every example of a version's evaluation, a page at a time: one model's values (or two models' side by side
and the change between them), sorted, searched by prompt text.

The query string is the whole state (a GET form: a view can be shared as a URL). Whatever it holds, the page
answers: an unknown or hidden model, a sort it cannot do, a page past the end each fall back to something
sensible and say so in a note. A model of a series the viewer may not see answers exactly like a model that does
not exist.

Cost: the texts of the version's examples are copied once into ExampleText (services.index_example_texts), so
that searching is a SQL ``ILIKE`` and a page is a count, one slice of the sorted results and the texts and the
compared model's results of that page's rows: a constant number of queries whether the version has 300 examples
or 10,000. Parsing the file on each request (a 10,000-row CSV takes a good part of a second) or keeping the
parsed file in the cache (every request would then load and unpickle all of it) would both grow with the file.
"""

from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Page, Paginator
from django.http import QueryDict

from evaluation import selectors, services
from evaluation.evidence import class_probabilities
from evaluation.models import EvaluationRun
from submissions.templatetags.task_text import HEAD, LONG, TAIL

PER_PAGE = 50
SEARCH_MAX = 200
SORTS = {
    "value-desc": "value, highest first",
    "value-asc": "value, lowest first",
    "change-desc": "change, largest increase first",
    "change-asc": "change, largest decrease first",
    "row": "row in the file",
}
DEFAULT_SORT = "value-desc"


@dataclass
class DrillDown:
    runs: list[EvaluationRun]  # the succeeded runs the viewer may choose from, by series and size
    run: EvaluationRun | None = None
    compare: EvaluationRun | None = None
    change_from: EvaluationRun | None = None
    change_to: EvaluationRun | None = None
    sort: str = DEFAULT_SORT
    search: str = ""
    page: Page | None = None
    examples: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the page did instead of what the URL asked
    texts_available: bool = True

    @property
    def shown(self) -> list[EvaluationRun]:
        """The models whose values each example shows."""
        return [self.run, self.compare] if self.compare else [self.run]

    @property
    def by_series(self) -> list[tuple[str, list[EvaluationRun]]]:
        groups: dict[str, list[EvaluationRun]] = {}
        for run in self.runs:
            groups.setdefault(run.model.series.name, []).append(run)
        return list(groups.items())

    @property
    def sorts(self) -> dict[str, str]:
        return SORTS

    @property
    def sort_label(self) -> str:
        return SORTS[self.sort]


def _model_id(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return -1  # not a number: an unknown model


def _chosen(runs: list[EvaluationRun], raw: str | None, what: str, notes: list[str]) -> EvaluationRun | None:
    wanted = _model_id(raw)
    if wanted is None:
        return None
    found = next((r for r in runs if r.model_id == wanted), None)
    if found is None:
        notes.append(f"No evaluated model {raw!s:.40} for {what} among this version's results.")
    return found


def _default_run(runs: list[EvaluationRun]) -> EvaluationRun:
    """The largest model of the first series (the version page's examples are those of the largest model)."""
    first = runs[0].model.series_id
    return [r for r in runs if r.model.series_id == first][-1]


def drill_down(*, user: AbstractBaseUser, version, params: QueryDict) -> DrillDown:
    runs = [
        r
        for r in selectors.runs_visible_to(user, version=version)
        if r.status == EvaluationRun.Status.SUCCEEDED
    ]
    view = DrillDown(runs=runs)
    if not runs:
        return view
    notes = view.notes
    view.run = _chosen(runs, params.get("model"), "the model", notes)
    if view.run is None:
        view.run = _default_run(runs)
        if notes:
            notes[-1] += f" Showing {view.run.model.name}."
    view.compare = _chosen(runs, params.get("compare"), "comparison", notes)
    if view.compare is not None and view.compare.pk == view.run.pk:
        view.compare = None
    if view.compare is not None:
        view.change_from, view.change_to = view.run, view.compare
    else:
        same_series = [r for r in runs if r.model.series_id == view.run.model.series_id]
        if len(same_series) >= 2:
            view.change_from, view.change_to = same_series[0], same_series[-1]

    sort = params.get("sort") or DEFAULT_SORT
    if sort not in SORTS:
        notes.append(f"Unknown sort “{sort:.40}”: sorted by {SORTS[DEFAULT_SORT]}.")
        sort = DEFAULT_SORT
    if sort.startswith("change") and view.change_from is None:
        notes.append(
            f"{view.run.model.name} is the only evaluated model of its series: choose a model to compare "
            f"with to sort by change. Sorted by {SORTS[DEFAULT_SORT]}."
        )
        sort = DEFAULT_SORT
    view.sort = sort

    search = (params.get("q") or "").replace("\x00", "").strip()
    if len(search) > SEARCH_MAX:
        notes.append(f"The search was cut to its first {SEARCH_MAX} characters.")
        search = search[:SEARCH_MAX]
    view.search = search
    view.texts_available = services.index_example_texts(version=version)
    if search and not view.texts_available:
        notes.append("This version's file can no longer be read, so its prompts cannot be searched.")
        view.search = search = ""

    results = selectors.drill_down_results(
        run=view.run,
        order=sort,
        search=search,
        change_from=view.change_from,
        change_to=view.change_to,
    )
    paginator = Paginator(results, PER_PAGE)
    asked = params.get("page") or "1"
    view.page = paginator.get_page(asked)
    if str(view.page.number) != asked.strip():
        notes.append(
            f"There is no page “{asked:.20}”: showing page {view.page.number} of {paginator.num_pages}."
        )
    view.examples = _examples(version, view, list(view.page.object_list))
    return view


def _text(texts: dict, name: str) -> dict | None:
    """The context of includes/long_text.html for one text of an example (None when it has none)."""
    length = texts.get(f"{name}_length") or 0
    if not length:
        return None
    head = texts[f"{name}_head"]
    if length <= LONG:
        return {"text": head, "shortened": False}
    return {
        "shortened": True,
        "head": head[:HEAD],
        "tail": texts[f"{name}_tail"],
        "omitted": length - HEAD - TAIL,
        "length": length,
        "field": name,
    }


def _on_model(run: EvaluationRun, result, metric: str) -> dict:
    """What one model did on one example: its value, whether it chose the answer, its class probabilities."""
    if result is None:
        return {"model": run.model, "value": None, "correct": None, "probabilities": []}
    value, correct, logprobs = result
    return {
        "model": run.model,
        "value": value,
        "correct": correct,
        "probabilities": class_probabilities(metric, logprobs) if logprobs else [],
    }


def _examples(version, view: DrillDown, page_results: list[dict]) -> list[dict]:
    rows = [r["row"] for r in page_results]
    texts = (
        selectors.example_texts_of(version=version, rows=rows, keep=LONG, tail=TAIL)
        if view.texts_available
        else {}
    )
    compared = {}
    if view.compare is not None:
        compared = {
            row: (r.value, r.correct, r.class_logprobs)
            for (_, row), r in selectors.example_results({view.compare.pk: rows}).items()
        }
    metric = version.metric
    examples = []
    for result in page_results:
        row = result["row"]
        own = texts.get(row, {})
        models = [_on_model(view.run, (result["value"], result["correct"], result["class_logprobs"]), metric)]
        if view.compare is not None:
            models.append(_on_model(view.compare, compared.get(row), metric))
        examples.append(
            {
                "row": row,
                "prompt": _text(own, "prompt"),
                "other_prompt": _text(own, "other_prompt"),
                "completion": _text(own, "completion"),
                "classes": own.get("classes") or [],
                "answer_index": own.get("answer_index"),
                "models": models,
                "change": result["change"],
            }
        )
    return examples
