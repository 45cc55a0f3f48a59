"""Settings come from the environment, or from a .env file that every setting honours."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

PRINT_SETTINGS = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'var': str(s.VAR_DIR), 'media': str(s.MEDIA_ROOT), 'db': str(s.DATABASES['default']['NAME']),"
    " 'cache': str(s.EVAL_CACHE_DIR), 'models': str(s.MODELS_DIR), 'upload': s.MAX_UPLOAD_MB}))"
)


def _settings_with(env_file_text: str, tmp_path, **environ) -> dict:
    env_file = tmp_path / "contest.env"
    env_file.write_text(env_file_text)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "VAR_DIR", "MAX_UPLOAD_MB", "EVAL_CACHE_DIR", "MODELS_DIR")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings", ENV_FILE=str(env_file), **environ)
    out = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_var_dir_from_a_env_file_moves_everything_the_embedded_default_keeps(tmp_path):
    var = tmp_path / "state"
    seen = _settings_with(f"VAR_DIR={var}\nMAX_UPLOAD_MB=42\n", tmp_path)
    assert seen == {
        "var": str(var),
        "media": str(var / "media"),
        "db": str(var / "db.sqlite3"),
        "cache": str(var / "cache" / "evaluations"),
        "models": str(var / "models"),
        "upload": 42,
    }


def test_the_process_environment_wins_over_the_env_file(tmp_path):
    seen = _settings_with(f"VAR_DIR={tmp_path / 'from-file'}\n", tmp_path, VAR_DIR=str(tmp_path / "from-env"))
    assert seen["var"] == str(tmp_path / "from-env")


def test_the_folder_broker_keeps_all_its_files_under_var_dir(tmp_path):
    """Nothing of the embedded default's broker lands in the folder a process started in (kombu's default
    ``./control`` for the exchange tables): two embedded sites on one machine share no file."""
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps(s.CELERY_BROKER_TRANSPORT_OPTIONS))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DATABASE_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(tmp_path), ENV_FILE=str(tmp_path / "no.env")
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    folders = json.loads(out.stdout)
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        assert folders[key].startswith(str(tmp_path / "broker")), (key, folders[key])
