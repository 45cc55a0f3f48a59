import datetime as dt
import io

import factory
import pandas as pd
from django.contrib.auth import get_user_model
from django.utils import timezone

from submissions.models import Round

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ContestantFactory(UserFactory):
    @factory.post_generation
    def contestant(obj, create, extracted, **kwargs):
        from accounts.services import register_contestant

        if create:
            register_contestant(user=obj)


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Round

    name = factory.Sequence(lambda n: f"Round {n}")
    opens_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=10))
    deadline = factory.LazyFunction(lambda: timezone.now().date() + dt.timedelta(days=30))


def make_task_csv(n: int = 300, *, metric: str = "classification", classes=(" Yes", " No")) -> bytes:
    """A valid task of ``n`` examples for ``metric``, as a contestant's spreadsheet would export it."""
    rows = []
    for i in range(n):
        prompt = f"Question {i}: is {i} even?\nAnswer:"
        if metric == "sequence_prob":
            rows.append({"prompt": prompt, "completion": " Yes" if i % 2 == 0 else " No"})
        elif metric in ("logodds", "absolute_logodds"):
            rows.append(
                {
                    "prompt": prompt,
                    "other_prompt": f"Q{i}, is it even?",
                    "classes": str(list(classes)),
                    "answer_index": i % 2,
                }
            )
        else:
            rows.append({"prompt": prompt, "classes": str(list(classes)), "answer_index": i % 2})
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue().encode()


ANSWERS = {
    "task_name": "Even or odd",
    "authors": "Alice Example",
    "metric": "classification",
    "description": "Is the number even?",
    "importance": "Parity matters.",
    "expected_inverse_scaling": "Bigger models overthink.",
    "data_generation": "A loop over integers.",
    "annotator_expertise": "Arithmetic.",
    "license": "CC-BY-4.0",
}
