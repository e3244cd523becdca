"""The cloud: where media, backups and secrets live, and what its deploy job needs."""

STORAGE_BACKENDS = {
    "aws": "storages.backends.s3.S3Storage",
    "gcp": "storages.backends.gcloud.GoogleCloudStorage",
    "azure": "storages.backends.azure_storage.AzureStorage",
}
REGISTRIES = {"aws": "Amazon ECR", "gcp": "Artifact Registry", "azure": "Azure Container Registry"}
CLIS = {"aws": "aws", "gcp": "gcloud", "azure": "az"}
# The secret manager each cloud's settings load from, and the variable that names the secret.
SECRET_MANAGERS = {
    "aws": ("AWS Secrets Manager", "AWS_SECRETS_MANAGER_SECRET_ID"),
    "gcp": ("Google Secret Manager", "GCP_SECRET_MANAGER_SECRET"),
    "azure": ("Azure Key Vault", "AZURE_KEY_VAULT_SECRET_ID"),
}
# The variables naming where media live: required in production. The last one moves media off
# the local disk.
MEDIA_LOCATION = {
    "aws": ["AWS_STORAGE_BUCKET_NAME"],
    "gcp": ["GS_BUCKET_NAME"],
    "azure": ["AZURE_ACCOUNT_NAME", "AZURE_CONTAINER"],
    "none": [],
}
# What the deploy job reads from the GitHub environment's variables (never secrets: it signs in
# with GitHub's OIDC token), for scripts/deploy.sh and the ${...} in deploy/<cloud>/.
DEPLOY_VARIABLES = {
    "aws": {
        "AWS_ACCOUNT_ID": "Account the service runs in",
        "AWS_REGION": "Region of the cluster, the registry and the secret",
        "AWS_DEPLOY_ROLE_ARN": "IAM role the deploy job assumes with GitHub's OIDC token",
        "ECS_CLUSTER": "ECS cluster of the services",
        "ECS_SUBNET_A": "Private subnet of the tasks (first availability zone)",
        "ECS_SUBNET_B": "Private subnet of the tasks (second availability zone)",
        "ECS_SECURITY_GROUP_ID": "Security group of the tasks",
        "ECS_TARGET_GROUP_ARN": "Load balancer target group of the web tier",
    },
    "gcp": {
        "GCP_PROJECT": "Project the service runs in",
        "GCP_REGION": "Region of Cloud Run and Artifact Registry",
        "GCP_WORKLOAD_IDENTITY_PROVIDER": (
            "projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>"
        ),
        "GCP_DEPLOY_SERVICE_ACCOUNT": "Service account the deploy job impersonates",
    },
    "azure": {
        "AZURE_DEPLOY_CLIENT_ID": "App registration GitHub's OIDC token signs in as",
        "AZURE_TENANT_ID": "Microsoft Entra tenant",
        "AZURE_SUBSCRIPTION_ID": "Subscription of the resource group",
        "AZURE_RESOURCE_GROUP": "Resource group of the container apps",
        "AZURE_LOCATION": "Region of the container apps, e.g. westeurope",
        "AZURE_REGISTRY": "Container registry name (<name>.azurecr.io)",
        "AZURE_CONTAINERAPPS_ENVIRONMENT_ID": "Resource ID of the Container Apps environment",
        "AZURE_IDENTITY_ID": "Resource ID of the apps' user-assigned managed identity",
        "AZURE_IDENTITY_CLIENT_ID": "Client ID of that identity",
        "AZURE_KEY_VAULT": "Key Vault name holding the secrets",
    },
}
# Every environment (staging, production) has its own values of the variables above, and these:
# its public URL, and where its media and backups live (bucket names are global).
PROMOTION_VARIABLES = {
    "PUBLIC_URL": (
        "The environment's public URL, smoke-tested after each rollout; its host is "
        "DJANGO_ALLOWED_HOSTS"
    ),
}
STORAGE_VARIABLES = {
    "aws": {
        "AWS_STORAGE_BUCKET_NAME": "S3 bucket of this environment's media",
        "BACKUP_BUCKET": "S3 bucket of this environment's database backups",
    },
    "gcp": {
        "GS_BUCKET_NAME": "Cloud Storage bucket of this environment's media",
        "BACKUP_BUCKET": "Cloud Storage bucket of this environment's database backups",
    },
    "azure": {
        "AZURE_ACCOUNT_NAME": "Storage account of this environment's media and backups",
        "AZURE_CONTAINER": "Blob container of the media",
        "BACKUP_BUCKET": "Blob container of the database backups",
    },
}
# The variables the app reads for each cloud: (name, default, meaning).
VARIABLES = {
    "aws": [
        ("AWS_REGION", "", "AWS region of the bucket and the secret, e.g. eu-west-1"),
        (
            "AWS_STORAGE_BUCKET_NAME",
            "",
            "S3 bucket of the media files; development keeps them on disk when unset",
        ),
        (
            "AWS_S3_ENDPOINT_URL",
            "",
            "S3 endpoint other than AWS's, e.g. http://localhost:5000 (the compose emulator)",
        ),
        ("AWS_S3_CUSTOM_DOMAIN", "", "Domain (a CDN) serving the bucket: URLs are not signed"),
        ("AWS_ACCESS_KEY_ID", "", "Key for development against real AWS (compose: emulator)"),
        ("AWS_SECRET_ACCESS_KEY", "", "Its secret; in the cloud the task role signs in"),
    ],
    "gcp": [
        ("GS_PROJECT_ID", "", "Google Cloud project (default: the credentials' project)"),
        (
            "GS_BUCKET_NAME",
            "",
            "Bucket of the media files; development keeps them on disk when unset",
        ),
        ("GS_CUSTOM_ENDPOINT", "", "Domain (a CDN or load balancer) serving the bucket"),
        (
            "GS_IAM_SIGN_BLOB",
            "true",
            "Sign media URLs through IAM (no key file on Cloud Run); false with a key file",
        ),
    ],
    "azure": [
        ("AZURE_ACCOUNT_NAME", "", "Storage account of the media container"),
        (
            "AZURE_CONTAINER",
            "",
            "Blob container of the media files; development keeps them on disk when unset",
        ),
        (
            "AZURE_CONNECTION_STRING",
            "",
            "Storage connection string instead of the managed identity (e.g. Azurite's)",
        ),
        ("AZURE_CUSTOM_DOMAIN", "", "Domain (a CDN) serving the container"),
        (
            "AZURE_CLIENT_ID",
            "",
            "Client ID of the user-assigned managed identity the app signs in with",
        ),
    ],
}


def variables(cloud):
    if cloud == "none":
        return []
    manager, secret_variable = SECRET_MANAGERS[cloud]
    backups_in = "Container" if cloud == "azure" else "Bucket"
    return [
        *VARIABLES[cloud],
        ("MEDIA_URL_EXPIRY", "3600", "Seconds a signed media URL stays valid"),
        ("BACKUP_BUCKET", "", f"{backups_in} backup.py uploads dumps to"),
        (
            secret_variable,
            "",
            f"{manager} secret holding a JSON object of variables; production loads it",
        ),
    ]


def settings(cloud, slug):
    """Where media and backups live, as the deploy manifests set it (examples to replace)."""
    name = slug.replace("_", "-")
    if cloud == "aws":  # ECS sets AWS_REGION in every container itself.
        return {"AWS_STORAGE_BUCKET_NAME": f"{name}-media", "BACKUP_BUCKET": f"{name}-backups"}
    if cloud == "gcp":
        return {"GS_BUCKET_NAME": f"{name}-media", "BACKUP_BUCKET": f"{name}-backups"}
    if cloud == "azure":
        account = slug.replace("_", "")[:19]
        return {
            "AZURE_ACCOUNT_NAME": f"{account}media",
            "AZURE_CONTAINER": "media",
            "BACKUP_BUCKET": "backups",
        }
    return {}


def derive(answers, facts):
    cloud = answers["cloud"]
    secret_manager, secret_variable = SECRET_MANAGERS.get(cloud, ("", ""))
    cloud_settings = settings(cloud, answers["project_slug"])
    return {
        "cloud_label": facts["labels"]["cloud"][cloud] if cloud != "none" else "",
        "cloud_cli": CLIS.get(cloud, ""),
        "registry_label": REGISTRIES.get(cloud, ""),
        "storage_backend": STORAGE_BACKENDS.get(cloud, ""),
        "secret_manager": secret_manager,
        "secret_variable": secret_variable,
        "deploy_variables": DEPLOY_VARIABLES[cloud] | PROMOTION_VARIABLES | STORAGE_VARIABLES[cloud]
        if cloud != "none"
        else {},
        "cloud_settings": cloud_settings,
        # What every cloud deploy target sets in the app's environment; scripts/deploy.sh fills
        # in each environment's own values (PUBLIC_HOST: PUBLIC_URL's host).
        "deploy_environment": {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": "${PUBLIC_HOST}",
            # The cloud's load balancer is the only client; trust its X-Forwarded-* headers.
            "FORWARDED_ALLOW_IPS": "*",
            **{name: f"${{{name}}}" for name in cloud_settings},
        },
        "_cloud_variables": variables(cloud),
        "media_location_env": MEDIA_LOCATION[cloud][-1:],
        "_cloud_required_env": MEDIA_LOCATION[cloud],
    }
