"""The contest overview's pages: the table, and its CSV and JSON exports with the same filters."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.text import slugify

from accounts.selectors import is_organizer
from config import freshness
from config.rows import get_or_404
from contest import rubric
from evaluation.models import ModelSeries
from pages import overview
from submissions.models import Metric, Round

ANY = [("", "any")]
ROWS_PER_PAGE = 100


class OverviewFilterForm(forms.Form):
    """The table's GET parameters: metric, review status, a verdict per series (verdict_<series id>), sort."""

    metric = forms.ChoiceField(choices=ANY + list(Metric.choices), required=False)
    review = forms.ChoiceField(
        label="Review status", choices=ANY + [(s, s) for s in overview.REVIEW_STATUSES], required=False
    )
    sort = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data, *, series: list[ModelSeries]):
        super().__init__(data)
        self.series = series
        choices = ANY + [(slug, label) for slug, label in overview.SERIES_CHOICES.items()]
        for one in series:
            self.fields[f"verdict_{one.pk}"] = forms.ChoiceField(
                label=f"{one.name} ({one.visibility})", choices=choices, required=False
            )

    def clean_sort(self) -> str:
        sort = self.cleaned_data["sort"] or "submission"
        if sort.removeprefix("-") not in overview.sort_names(self.series):
            raise forms.ValidationError(f"The table cannot be sorted by {sort!r}.")
        return sort

    def verdict_fields(self):
        return [self[f"verdict_{one.pk}"] for one in self.series]

    def query(self) -> overview.OverviewQuery:
        """What was asked, leaving out any parameter that was not understood (the form says which)."""
        data = self.cleaned_data  # after is_valid(): the fields that were understood
        return overview.OverviewQuery(
            metric=data.get("metric", ""),
            review=data.get("review", ""),
            verdicts=tuple(
                (one.pk, data[f"verdict_{one.pk}"]) for one in self.series if data.get(f"verdict_{one.pk}")
            ),
            sort=data.get("sort") or "submission",
        )


def _round(request: HttpRequest, round_id: int) -> Round:
    if not is_organizer(request.user):
        raise PermissionDenied("Only organizers see the contest overview.")
    return get_or_404(Round, round_id)


def _asked(request: HttpRequest, round: Round):
    """The round's overview and the rows the organizer asked for, with the form that says what was asked. The
    overview is computed once per change of the data (config/freshness.py), whatever the filters."""
    table = freshness.cached(("overview", round.pk), lambda: overview.overview_of(round=round))
    form = OverviewFilterForm(request.GET, series=table.series)
    form.is_valid()
    query = form.query()
    rows = overview.sorted_rows(overview.filtered(table.rows, query), sort=query.sort, series=table.series)
    return table, form, query, rows


def _bad_parameters(form: OverviewFilterForm) -> str:
    return "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())


@login_required
def round_overview(request: HttpRequest, round_id: int) -> HttpResponse:
    round = _round(request, round_id)

    def context() -> dict:
        table, form, query, rows = _asked(request, round)
        sorts = _sort_links(request, query.sort, table.series)
        # The page shows the rows a screen can hold, in pages; the CSV and JSON exports hold every row asked for.
        page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
        return {
            "overview": table,
            "form": form,
            "rows": page.object_list,
            "page": page,
            "matching": len(rows),
            "criteria": rubric.CRITERIA_KEYS,
            "sorts": sorts,
            "series_sorts": [(one, sorts[f"slope-{one.pk}"]) for one in table.series],
            "exports": request.GET.urlencode(),
        }

    # The table as rendered for these parameters, until the data changes: a round of a thousand submissions
    # costs its organizers one computation per change, not one per view.
    body = freshness.cached_html(
        request, ("overview", round.pk, sorted(request.GET.lists())), "organizer/_overview_body.html", context
    )
    return freshness.render_page(request, "organizer/overview.html", {"round": round, "body": body})


@login_required
def round_overview_csv(request: HttpRequest, round_id: int) -> HttpResponse:
    table, form, query, rows = _asked(request, _round(request, round_id))
    if form.errors:
        return HttpResponse(_bad_parameters(form), status=400, content_type="text/plain; charset=utf-8")
    response = HttpResponse(overview.as_csv(table, rows), content_type="text/csv; charset=utf-8")
    name = slugify(table.round.name) or f"round-{table.round.pk}"
    response["Content-Disposition"] = f'attachment; filename="overview-{name}.csv"'
    return response


@login_required
def round_overview_json(request: HttpRequest, round_id: int) -> JsonResponse:
    table, form, query, rows = _asked(request, _round(request, round_id))
    if form.errors:
        return JsonResponse({"errors": form.errors}, status=400)
    return JsonResponse(overview.as_json(table, rows, query))


def _sort_links(request: HttpRequest, current: str, series: list[ModelSeries]) -> dict[str, dict]:
    """Per sort name, the link of its column's heading (the filters kept; a second click reverses the order)
    and the arrow it shows now."""
    links = {}
    for name in overview.sort_names(series):
        params = request.GET.copy()
        params.pop("page", None)  # a new order starts on its first page
        params["sort"] = f"-{name}" if current == name else name
        arrow = "▲" if current == name else "▼" if current == f"-{name}" else ""
        links[name] = {"href": f"?{params.urlencode()}", "arrow": arrow}
    return links
