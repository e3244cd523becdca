"""The project's apps: which are installed for the answers, in INSTALLED_APPS order, and which
are examples a team deletes (the README's commands, test_example_apps.py)."""

THIRD_PARTY_APPS = {
    "api": {
        "drf": [
            "corsheaders",
            "rest_framework",
            "rest_framework_simplejwt.token_blacklist",
            "drf_spectacular",
            "drf_spectacular_sidecar",
        ],
        "ninja": ["corsheaders", "ninja", "ninja_jwt.token_blacklist"],
    },
    "background_tasks": {"django_tasks": ["django_tasks_db"]},
}
# Each example app, and the tests and factories that go with it.
EXAMPLE_TESTS = {
    "orders": ["tests/test_orders.py", "tests/order_factories.py"],
    "api_keys": ["tests/test_api_keys.py"],
    "notifications": ["tests/test_notifications.py"],
}


def derive(answers, facts):
    background = answers["background_tasks"] != "none"
    apps = [
        "core",
        "health",
        *(["users"] if answers["custom_user_model"] else []),
        *(["orders"] if answers["example_app"] else []),
        # Machine clients' credentials, for the example API.
        *(["api_keys"] if answers["example_app"] and answers["api"] != "none" else []),
        *(["metrics"] if facts["uses_prometheus"] else []),
        *(["worker", "notifications"] if background else []),
    ]
    examples = [app for app in EXAMPLE_TESTS if app in apps]
    example_tests = [path for app in examples for path in EXAMPLE_TESTS[app]]
    if "orders" in examples and answers["api"] != "none":
        example_tests.append("tests/test_orders_api.py")
    third_party = [
        app for name, values in THIRD_PARTY_APPS.items() for app in values.get(answers[name], [])
    ]
    slug = answers["project_slug"]
    return {
        "installed_apps": [*third_party, *(f"{slug}.{app}" for app in apps)],
        "example_apps": examples,
        "example_tests": example_tests,
    }
