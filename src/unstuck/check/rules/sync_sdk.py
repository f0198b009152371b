"""USK115 sync-sdk: synchronous SDK clients of network services on the event loop.

Incident: an ``async def`` chat route called ``OpenAI().chat.completions.create(...)``, the
sync client: each completion held the loop for seconds, so the worker served one user
at a time while its health checks timed out. The same happens with every SDK whose
client speaks HTTP or a wire protocol synchronously: Slack's ``WebClient``, Azure Blob
Storage, Google Cloud Storage and BigQuery, Stripe, Twilio, SendGrid, pymongo,
Elasticsearch, websocket-client, paramiko, pika.

Fix: the async client of the same SDK (``AsyncOpenAI``, ``AsyncAnthropic``,
``AsyncWebClient``, ``azure.storage.blob.aio``, ``AsyncMongoClient``,
``AsyncElasticsearch``, Stripe's ``*_async`` methods) with ``await``; where there is none,
``await asyncio.to_thread(...)`` around the call; or make the route ``def``.
"""

from unstuck.check.rule import Client, Rule, functions, methods

_AZURE_BLOB = "azure.storage.blob"
_GCS = "google.cloud.storage"
_BIGQUERY = "google.cloud.bigquery"
_FIRESTORE = "google.cloud.firestore"
_STRIPE_RESOURCES = (
    "Account AccountLink Balance BalanceTransaction Charge Coupon Customer Dispute Event File "
    "Invoice InvoiceItem PaymentIntent PaymentLink PaymentMethod Payout Price Product "
    "PromotionCode Refund SetupIntent Source Subscription SubscriptionItem TaxRate Token "
    "Transfer WebhookEndpoint checkout.Session billing_portal.Session"
)
_STRIPE_CALLS = (
    "create retrieve modify list delete search confirm capture cancel pay finalize_invoice "
    "void_invoice list_line_items create_source list_sources attach detach"
)

_POSTHOG_WAITS = (
    "feature_enabled get_feature_flag get_feature_flag_payload get_all_flags "
    "get_all_flags_and_payloads get_remote_config_payload load_feature_flags flush"
)

# LangChain's models call their provider over HTTP in their sync methods (``invoke``,
# ``embed_query``); the ``a``-prefixed ones (``ainvoke``, ``aembed_query``) are async.
# A model bound to tools or to a schema is the same model when invoked.
_LANGCHAIN_CHAT_MODELS = (
    "langchain_openai.ChatOpenAI langchain_openai.AzureChatOpenAI langchain_openai.OpenAI "
    "langchain_openai.AzureOpenAI langchain_anthropic.ChatAnthropic langchain_ollama.ChatOllama "
    "langchain_ollama.OllamaLLM langchain_google_genai.ChatGoogleGenerativeAI "
    "langchain_mistralai.ChatMistralAI langchain_groq.ChatGroq langchain_aws.ChatBedrock "
    "langchain_aws.ChatBedrockConverse langchain_deepseek.ChatDeepSeek "
    "langchain_community.chat_models.ChatOpenAI langchain_community.chat_models.ChatOllama "
    "langchain_community.chat_models.ChatTongyi langchain_community.chat_models.ChatZhipuAI "
    "langchain_community.llms.Ollama langchain_community.llms.OpenAI "
    "langchain_community.llms.Tongyi langchain.chat_models.ChatOpenAI langchain.llms.OpenAI"
)
_LANGCHAIN_CHAT_CALLS = "invoke batch stream generate predict predict_messages"
_LANGCHAIN_BINDINGS = "bind bind_tools with_structured_output with_retry with_config"
_LANGCHAIN_EMBEDDINGS = (
    "langchain_openai.OpenAIEmbeddings langchain_openai.AzureOpenAIEmbeddings "
    "langchain_ollama.OllamaEmbeddings langchain_google_genai.GoogleGenerativeAIEmbeddings "
    "langchain_mistralai.MistralAIEmbeddings langchain_aws.BedrockEmbeddings "
    "langchain_community.embeddings.OpenAIEmbeddings "
    "langchain_community.embeddings.OllamaEmbeddings "
    "langchain_community.embeddings.DashScopeEmbeddings langchain.embeddings.OpenAIEmbeddings"
)
# LangChain's vector stores backed by a server (or a database on disk) query it in their
# sync methods; ``asimilarity_search``, ``aadd_documents``, ... are the async ones. A
# retriever made from one queries it when invoked.
_LANGCHAIN_STORES = (
    "langchain_elasticsearch.ElasticsearchStore "
    "langchain_community.vectorstores.ElasticsearchStore langchain_milvus.Milvus "
    "langchain_community.vectorstores.Milvus langchain_postgres.PGVector "
    "langchain_community.vectorstores.PGVector langchain_qdrant.QdrantVectorStore "
    "langchain_community.vectorstores.Qdrant langchain_pinecone.PineconeVectorStore "
    "langchain_chroma.Chroma langchain_community.vectorstores.Chroma "
    "langchain_weaviate.WeaviateVectorStore langchain_mongodb.MongoDBAtlasVectorSearch"
)
_LANGCHAIN_STORE_CALLS = (
    "similarity_search similarity_search_with_score similarity_search_by_vector "
    "similarity_search_with_relevance_scores max_marginal_relevance_search add_texts "
    "add_documents delete get_by_ids"
)
_RETRIEVER = "langchain_core.vectorstores.VectorStoreRetriever"
# an in-process FAISS index: its sync methods call the embedding model (an API, or a
# model run here) for what they add or look up
_FAISS = "langchain_community.vectorstores.FAISS"

# LlamaIndex: an index built from documents embeds them (a request to the embedding model
# per batch); its query and chat engines, retrievers, LLMs and embedding models call their
# provider in their sync methods (``aquery``, ``achat``, ``aretrieve``, ``acomplete`` are
# the async ones). The legacy ``llama_index`` namespace (before 0.10) names the same.
_LI_INDEX = "llama_index.core.VectorStoreIndex"
_LI_QUERY = "llama_index.core.base.base_query_engine.BaseQueryEngine"
_LI_CHAT = "llama_index.core.chat_engine.types.BaseChatEngine"
_LI_RETRIEVER = "llama_index.core.base.base_retriever.BaseRetriever"
_LI_LLM = "llama_index.core.llms.LLM"
_LI_EMBEDDING = "llama_index.core.base.embeddings.base.BaseEmbedding"
_LI_SETTINGS = "llama_index.core.settings._Settings"
_LI_LLMS = (
    "llama_index.llms.openai.OpenAI llama_index.llms.azure_openai.AzureOpenAI "
    "llama_index.llms.ollama.Ollama llama_index.llms.anthropic.Anthropic "
    "llama_index.llms.openai_like.OpenAILike llama_index.llms.gemini.Gemini "
    "llama_index.llms.groq.Groq llama_index.llms.mistralai.MistralAI llama_index.core.llms.llm.LLM"
)
_LI_EMBEDDINGS = (
    "llama_index.embeddings.openai.OpenAIEmbedding "
    "llama_index.embeddings.azure_openai.AzureOpenAIEmbedding "
    "llama_index.embeddings.ollama.OllamaEmbedding"
)

# One entry per client class: the methods that stay local, the other names it is
# imported under, and which methods hand out another client.
# the generated SDK clients' own bookkeeping: no request
_SDK_LOCAL = "is_closed close copy with_options with_raw_response with_streaming_response"

CLIENTS = (
    Client(
        "openai.OpenAI",
        local=_SDK_LOCAL,
        aliases="openai.Client openai._client.OpenAI",
        resources=True,
    ),
    Client(
        "openai.AzureOpenAI",
        local=_SDK_LOCAL,
        aliases="openai.lib.azure.AzureOpenAI",
        resources=True,
    ),
    Client(
        "anthropic.Anthropic",
        local=_SDK_LOCAL,
        aliases="anthropic.Client anthropic._client.Anthropic",
        resources=True,
    ),
    Client(
        "pymongo.MongoClient",
        local="with_options copy get_database get_collection get_default_database start_session",
        aliases="pymongo.mongo_client.MongoClient",
        resources=True,
    ),
    # model providers' own SDKs (each has an async client: ``AsyncGroq``,
    # ``ollama.AsyncClient``, ``cohere.AsyncClient``, ``client.aio`` of google-genai,
    # the ``*_async`` methods of mistralai)
    Client("groq.Groq", local=_SDK_LOCAL, aliases="groq.Client groq._client.Groq", resources=True),
    Client("ollama.Client", aliases="ollama._client.Client"),
    # Alibaba Cloud OSS: each object call is an HTTP request (a signed URL is made here)
    Client("oss2.Bucket", local="sign_url", aliases="oss2.api.Bucket"),
    Client("oss2.Service", aliases="oss2.api.Service"),
    Client("cohere.Client", aliases="cohere.client.Client"),
    Client("cohere.ClientV2", aliases="cohere.client_v2.ClientV2"),
    Client("mistralai.Mistral", aliases="mistralai.sdk.Mistral", resources=True),
    # its async half is ``client.aio``, whose calls are awaited
    Client("google.genai.Client", aliases="google.genai.client.Client", resources=True),
    Client(
        "google.generativeai.GenerativeModel",
        local="start_chat",
        aliases="google.generativeai.generative_models.GenerativeModel",
        returns={"start_chat": "google.generativeai.ChatSession"},
    ),
    Client(
        "google.generativeai.ChatSession",
        local="rewind",
        aliases="google.generativeai.generative_models.ChatSession",
    ),
    # vector databases over HTTP (or on disk): Pinecone, Chroma, OpenSearch
    Client(
        "pinecone.Pinecone",
        # handles on an index, made in memory
        local="Index IndexAsyncio",
        aliases="pinecone.control.pinecone.Pinecone",
        returns={"Index": "pinecone.Index"},
    ),
    Client("pinecone.Index", aliases="pinecone.data.index.Index pinecone.db_data.index.Index"),
    # LangSmith's client: runs, feedback, datasets over HTTP (``langsmith.AsyncClient`` is
    # the async one); ``flush`` waits for the tracing queue a background thread sends
    Client("langsmith.Client", local="cleanup", aliases="langsmith.client.Client"),
    *(
        Client(
            f"chromadb.{client}",
            local="get_settings",
            returns={
                made: "chromadb.Collection"
                for made in ("get_collection", "create_collection", "get_or_create_collection")
            },
        )
        for client in ("HttpClient", "PersistentClient", "CloudClient")
    ),
    Client("chromadb.Collection", aliases="chromadb.api.models.Collection.Collection"),
    Client(
        "langchain_neo4j.Neo4jGraph",
        local="get_schema get_structured_schema",
        aliases="langchain_community.graphs.Neo4jGraph "
        "langchain_community.graphs.neo4j_graph.Neo4jGraph "
        "langchain_neo4j.graphs.neo4j_graph.Neo4jGraph",
    ),
    Client("opensearchpy.OpenSearch", resources=True),
    Client("elasticsearch.Elasticsearch", local="options", resources=True),
    # Tavily web search (every method is a request; ``AsyncTavilyClient`` is the async one)
    Client("tavily.TavilyClient", aliases="tavily.Client tavily.tavily.TavilyClient"),
    # Slack
    Client(
        "slack_sdk.WebClient",
        aliases="slack_sdk.web.WebClient slack_sdk.web.client.WebClient slack.WebClient",
    ),
    Client("slack_sdk.webhook.WebhookClient", aliases="slack_sdk.webhook.client.WebhookClient"),
    # Azure
    Client(
        f"{_AZURE_BLOB}.BlobServiceClient",
        local="get_container_client get_blob_client close",
        aliases=f"{_AZURE_BLOB}._blob_service_client.BlobServiceClient",
        returns={
            "from_connection_string": f"{_AZURE_BLOB}.BlobServiceClient",
            "get_container_client": f"{_AZURE_BLOB}.ContainerClient",
            "get_blob_client": f"{_AZURE_BLOB}.BlobClient",
        },
    ),
    Client(
        f"{_AZURE_BLOB}.ContainerClient",
        local="get_blob_client close",
        aliases=f"{_AZURE_BLOB}._container_client.ContainerClient",
        returns={
            "from_connection_string": f"{_AZURE_BLOB}.ContainerClient",
            "from_container_url": f"{_AZURE_BLOB}.ContainerClient",
            "get_blob_client": f"{_AZURE_BLOB}.BlobClient",
            "download_blob": f"{_AZURE_BLOB}.StorageStreamDownloader",
        },
    ),
    Client(
        f"{_AZURE_BLOB}.BlobClient",
        local="close",
        aliases=f"{_AZURE_BLOB}._blob_client.BlobClient",
        returns={
            "from_connection_string": f"{_AZURE_BLOB}.BlobClient",
            "from_blob_url": f"{_AZURE_BLOB}.BlobClient",
            "download_blob": f"{_AZURE_BLOB}.StorageStreamDownloader",
        },
    ),
    Client(f"{_AZURE_BLOB}.StorageStreamDownloader"),
    Client(
        "azure.storage.queue.QueueClient",
        local="close",
        returns={"from_connection_string": "azure.storage.queue.QueueClient"},
    ),
    Client(
        "azure.cosmos.CosmosClient",
        local="get_database_client",
        returns={"get_database_client": "azure.cosmos.DatabaseProxy"},
    ),
    Client(
        "azure.cosmos.DatabaseProxy",
        local="get_container_client",
        returns={"get_container_client": "azure.cosmos.ContainerProxy"},
    ),
    Client("azure.cosmos.ContainerProxy"),
    Client("azure.keyvault.secrets.SecretClient", local="close"),
    # Google Cloud
    Client(
        f"{_GCS}.Client",
        # ``close`` drops the connection pool: no request
        local="bucket batch close",
        aliases=f"{_GCS}.client.Client",
        returns={"bucket": f"{_GCS}.Bucket", "get_bucket": f"{_GCS}.Bucket"},
    ),
    Client(
        f"{_GCS}.Bucket",
        local="blob",
        aliases=f"{_GCS}.bucket.Bucket",
        returns={"blob": f"{_GCS}.Blob", "get_blob": f"{_GCS}.Blob"},
    ),
    Client(f"{_GCS}.Blob", local="generate_signed_url", aliases=f"{_GCS}.blob.Blob"),
    # SurrealDB's blocking connections (``Surreal(url)``; ``AsyncSurreal`` is the async one)
    Client(
        "surrealdb.Surreal",
        aliases="surrealdb.BlockingWsSurrealConnection surrealdb.BlockingHttpSurrealConnection",
    ),
    # Pusher Channels: each event is an HTTP request to its REST API (signing a channel
    # or a webhook is local)
    Client(
        "pusher.Pusher",
        local="authenticate authenticate_subscription validate_webhook",
        aliases="pusher.pusher.Pusher",
    ),
    Client(
        f"{_BIGQUERY}.Client",
        local="dataset close",
        aliases=f"{_BIGQUERY}.client.Client",
        returns={"query": f"{_BIGQUERY}.QueryJob", "get_job": f"{_BIGQUERY}.QueryJob"},
    ),
    Client(
        f"{_BIGQUERY}.QueryJob",
        aliases=f"{_BIGQUERY}.job.QueryJob",
        returns={"result": f"{_BIGQUERY}.table.RowIterator"},
    ),
    Client(f"{_BIGQUERY}.table.RowIterator"),
    Client(
        f"{_FIRESTORE}.Client",
        local="collection document collection_group batch transaction",
        aliases=f"{_FIRESTORE}.client.Client google.cloud.firestore_v1.client.Client",
        returns={
            "collection": f"{_FIRESTORE}.CollectionReference",
            "document": f"{_FIRESTORE}.DocumentReference",
        },
    ),
    Client(
        f"{_FIRESTORE}.CollectionReference",
        local="document where order_by limit offset start_at start_after end_at end_before",
        returns={"document": f"{_FIRESTORE}.DocumentReference"},
    ),
    Client(
        f"{_FIRESTORE}.DocumentReference",
        local="collection",
        returns={"collection": f"{_FIRESTORE}.CollectionReference"},
    ),
    # Payments, messages, mail
    Client(
        "stripe.StripeClient",
        local="construct_event parse_thin_event",
        aliases="stripe._stripe_client.StripeClient",
        resources=True,
    ),
    Client("twilio.rest.Client", resources=True),
    Client(
        "plivo.RestClient",
        aliases="plivo.rest.RestClient plivo.rest.client.RestClient",
        resources=True,
    ),
    Client(
        "sendgrid.SendGridAPIClient",
        aliases="sendgrid.sendgrid.SendGridAPIClient",
        resources=True,
    ),
    # Wire protocols: WebSocket, SSH, AMQP
    Client(
        "websocket.WebSocket",
        local="settimeout gettimeout fileno getsubprotocol getstatus getheaders is_ssl",
        aliases="websocket._core.WebSocket",
    ),
    Client("websocket.WebSocketApp", aliases="websocket._app.WebSocketApp"),
    Client("websockets.sync.client.ClientConnection", local="fileno"),
    Client(
        "paramiko.SSHClient",
        local="set_missing_host_key_policy get_transport set_log_channel",
        aliases="paramiko.client.SSHClient",
        returns={"open_sftp": "paramiko.SFTPClient"},
    ),
    Client("paramiko.SFTPClient", aliases="paramiko.sftp_client.SFTPClient"),
    Client(
        "pika.BlockingConnection",
        aliases="pika.adapters.blocking_connection.BlockingConnection",
        returns={"channel": "pika.adapters.blocking_connection.BlockingChannel"},
    ),
    Client("pika.adapters.blocking_connection.BlockingChannel"),
    Client("kafka.KafkaProducer", aliases="kafka.producer.kafka.KafkaProducer"),
    Client("kafka.KafkaConsumer", aliases="kafka.consumer.group.KafkaConsumer"),
    Client("ftplib.FTP", local="set_pasv set_debuglevel", aliases="ftplib.FTP_TLS"),
    Client("imaplib.IMAP4", aliases="imaplib.IMAP4_SSL"),
    Client("poplib.POP3", aliases="poplib.POP3_SSL"),
    Client("ldap3.Connection", aliases="ldap3.core.connection.Connection"),
    # Caches and databases with their own protocol
    Client(
        "pymemcache.client.base.Client",
        aliases="pymemcache.Client pymemcache.client.Client pymemcache.client.base.PooledClient "
        "pymemcache.client.hash.HashClient pymemcache.HashClient",
    ),
    Client(
        "neo4j.Driver",
        local="session",
        aliases="neo4j._sync.driver.Driver",
        returns={"session": "neo4j.Session"},
    ),
    Client("neo4j.Session", local="close", aliases="neo4j._sync.work.session.Session"),
    Client(
        "cassandra.cluster.Cluster",
        local="add_execution_profile",
        returns={"connect": "cassandra.cluster.Session"},
    ),
    Client("cassandra.cluster.Session", local="execute_async"),
    # Infrastructure and SaaS APIs
    Client("hvac.Client", aliases="hvac.v1.Client", resources=True),
    Client(
        "minio.Minio",
        local="presigned_get_object presigned_put_object get_presigned_url",
        aliases="minio.api.Minio",
    ),
    Client("docker.DockerClient", aliases="docker.client.DockerClient", resources=True),
    # ``client.containers.get(name)``: a request to the daemon (not a dict's ``get``), and
    # what it returns: a container or an image whose methods are requests too
    *(
        Client(
            f"docker.models.{module}.{kind}Collection",
            returns={name: f"docker.models.{module}.{kind}" for name in made.split()},
        )
        for module, kind, made in [
            ("containers", "Container", "get run create"),
            ("images", "Image", "get pull build load"),
        ]
    ),
    Client("docker.models.containers.Container"),
    Client("docker.models.images.Image"),
    *(
        Client(f"kubernetes.client.{api}", aliases=f"kubernetes.client.api.{module}.{api}")
        for api, module in [
            ("CoreV1Api", "core_v1_api"),
            ("AppsV1Api", "apps_v1_api"),
            ("BatchV1Api", "batch_v1_api"),
            ("CustomObjectsApi", "custom_objects_api"),
        ]
    ),
    Client("dropbox.Dropbox", aliases="dropbox.dropbox_client.Dropbox"),
    # the Hugging Face Hub: every call of its API is a request (files downloaded whole)
    Client("huggingface_hub.HfApi", aliases="huggingface_hub.hf_api.HfApi"),
    # Hugging Face's inference API (``AsyncInferenceClient`` is the async one)
    Client(
        "huggingface_hub.InferenceClient",
        aliases="huggingface_hub.inference._client.InferenceClient",
    ),
    # vector databases (``AsyncQdrantClient`` and ``AsyncMilvusClient`` are the async ones)
    Client(
        "qdrant_client.QdrantClient",
        local="close",
        aliases="qdrant_client.qdrant_client.QdrantClient",
    ),
    Client(
        "pymilvus.MilvusClient",
        # they build request parameters in memory
        local="close prepare_index_params create_schema create_field_schema",
        aliases="pymilvus.milvus_client.MilvusClient "
        "pymilvus.milvus_client.milvus_client.MilvusClient",
    ),
    Client("pymilvus.Collection", aliases="pymilvus.orm.collection.Collection"),
    Client(
        "github.Github",
        aliases="github.MainClass.Github",
        returns={
            "get_repo": "github.Repository.Repository",
            "get_user": "github.NamedUser.NamedUser",
            "get_organization": "github.Organization.Organization",
        },
    ),
    Client("github.Repository.Repository"),
    Client("github.NamedUser.NamedUser"),
    Client("github.Organization.Organization"),
    Client("tweepy.Client", aliases="tweepy.client.Client"),
    Client("jira.JIRA", aliases="jira.client.JIRA"),
    # SOAP: ``client.service.Operation(...)`` is a request
    Client("zeep.Client", aliases="zeep.client.Client", resources=True),
    # fitness services: Strava's API and Garmin Connect, over requests
    Client(
        "stravalib.Client",
        # the authorization URL is built in memory
        local="authorization_url",
        aliases="stravalib.client.Client",
    ),
    Client("garminconnect.Garmin"),
    *(
        Client(f"geopy.geocoders.{geocoder}")
        for geocoder in ("Nominatim", "GoogleV3", "ArcGIS", "Bing", "Photon", "OpenCage")
    ),
)

RULE = Rule(
    code="USK115",
    name="sync-sdk",
    summary="is a synchronous SDK request on the event loop",
    fix="use the SDK's async client (AsyncOpenAI, AsyncWebClient, azure ...aio, "
    "AsyncMongoClient, ...) with await, or `await asyncio.to_thread(...)`, "
    "or make the route `def`",
    advice="await the SDK's async client (or asyncio.to_thread), or make it def",
    catches="sync SDK clients of network services: OpenAI, Anthropic, pymongo, Elasticsearch, "
    "Slack `WebClient` and Bolt's `App.dispatch`, Azure Blob/Queue/Cosmos/Key Vault, "
    "Google Cloud Storage/BigQuery/Firestore, Alibaba Cloud OSS, Firebase Admin, "
    "google-auth's `id_token` verifiers, Stripe, Twilio, Plivo, SendGrid, LangSmith, "
    "websocket-client, `websockets.sync`, paramiko, pika, kafka-python, ftplib/imaplib/poplib, "
    "ldap3, pymemcache, neo4j, Cassandra, hvac, MinIO, Docker, Kubernetes, Dropbox, Qdrant, "
    "Milvus, Pinecone, Chroma, OpenSearch, PyGithub, Hugging Face `InferenceClient` and Hub "
    "(`hf_hub_download`, `snapshot_download`, `HfApi`), "
    "Strava (stravalib), Garmin Connect, LiteLLM, Groq, Ollama, Cohere, Mistral, Google Gen AI, "
    "SurrealDB, Pusher, tweepy, JIRA, zeep, geopy geocoders, PostHog feature flags, Tavily search, "
    "openai before 1.0 (`openai.ChatCompletion.create`), Haystack's sync `Pipeline.run`, "
    "LangChain chat models, embeddings, vector stores and Neo4j graphs (`invoke`, "
    "`embed_query`, "
    "`similarity_search`), LlamaIndex indexes built or updated, query and chat engines, "
    "retrievers, LLMs and embedding models (`query`, `chat`, `retrieve`, `complete`) "
    "(their async clients are fine)",
    example="""\
from fastapi import FastAPI
from slack_sdk import WebClient

app = FastAPI()
slack = WebClient(token="xoxb-...")

@app.post("/alerts")
async def alert(text: str):
    slack.chat_postMessage(channel="#ops", text=text)
""",
    doc=__doc__ or "",
    clients=CLIENTS,
    # Bolt's sync ``App.dispatch`` runs the middleware and listeners (Web API calls) and
    # waits for the listener to acknowledge; its other methods register listeners
    methods=methods("posthog.Posthog", _POSTHOG_WAITS)
    | methods("slack_bolt.App", "dispatch start")
    | methods("slack_bolt.oauth.OAuthFlow", "handle_installation handle_callback")
    | frozenset(
        (model, call)
        for model in _LANGCHAIN_CHAT_MODELS.split()
        for call in _LANGCHAIN_CHAT_CALLS.split()
    )
    | frozenset(
        (model, call)
        for model in _LANGCHAIN_EMBEDDINGS.split()
        for call in ("embed_query", "embed_documents")
    )
    | frozenset(
        (store, call)
        for store in _LANGCHAIN_STORES.split()
        for call in _LANGCHAIN_STORE_CALLS.split()
    )
    | methods(_RETRIEVER, "invoke batch get_relevant_documents")
    | methods(_FAISS, "add_texts add_documents similarity_search similarity_search_with_score")
    # a Haystack pipeline run synchronously runs its components (model calls, retrievers)
    # on the caller's thread; ``draw``/``show`` render through mermaid.ink over HTTP
    | methods("haystack.Pipeline", "run draw show")
    | methods(_LI_INDEX, "insert insert_nodes delete_ref_doc refresh_ref_docs update_ref_doc")
    | methods(_LI_QUERY, "query retrieve synthesize")
    | methods(_LI_CHAT, "chat stream_chat")
    | methods(_LI_RETRIEVER, "retrieve")
    | methods(_LI_LLM, "complete chat stream_complete stream_chat predict structured_predict")
    | methods(
        _LI_EMBEDDING,
        "get_text_embedding get_query_embedding get_text_embedding_batch "
        "get_agg_embedding_from_queries",
    ),
    instances={"llama_index.core.Settings": _LI_SETTINGS},
    attribute_types={
        (_LI_SETTINGS, "llm"): _LI_LLM,
        (_LI_SETTINGS, "embed_model"): _LI_EMBEDDING,
        ("slack_bolt.App", "client"): "slack_sdk.WebClient",
        ("docker.DockerClient", "containers"): "docker.models.containers.ContainerCollection",
        ("docker.DockerClient", "images"): "docker.models.images.ImageCollection",
    },
    functions=frozenset(
        {
            "websocket.create_connection",
            "websockets.sync.client.connect",
            # constructors that connect (or fetch a WSDL, or server info) at once
            "pika.BlockingConnection",
            "kafka.KafkaProducer",
            "kafka.KafkaConsumer",
            "imaplib.IMAP4",
            "imaplib.IMAP4_SSL",
            "poplib.POP3",
            "poplib.POP3_SSL",
            "zeep.Client",
            "jira.JIRA",
            "neo4j.GraphDatabase.driver",
            # a Chroma server client checks its tenant and database as it is made
            "chromadb.HttpClient",
            "chromadb.CloudClient",
            # LangChain's Neo4j graph connects and reads the schema as it is made
            "langchain_neo4j.Neo4jGraph",
            "langchain_community.graphs.Neo4jGraph",
            # pymilvus's ORM: a collection made by name describes it on the server
            "pymilvus.Collection",
            "pymilvus.connections.connect",
            # they connect and make sure the index or collection exists
            "langchain_elasticsearch.ElasticsearchStore",
            "langchain_community.vectorstores.ElasticsearchStore",
            "langchain_milvus.Milvus",
        }
    )
    # a FAISS index built from texts: every text embedded first
    | functions(_FAISS, "from_texts from_documents")
    # the Hub's functions: downloads (a file, or a whole repository) and uploads
    | functions(
        "huggingface_hub",
        "hf_hub_download snapshot_download upload_file upload_folder create_repo delete_repo "
        "create_commit list_models list_datasets list_repo_files model_info dataset_info "
        "repo_info whoami create_branch delete_file",
    )
    | functions(_LI_INDEX, "from_documents")
    | functions(
        "pymilvus.utility",
        "has_collection list_collections drop_collection has_partition get_query_segment_info "
        "wait_for_index_building_complete loading_progress wait_for_loading_complete",
    )
    # the module-level API of openai before 1.0 (its ``acreate`` are the async ones)
    # LiteLLM's sync calls (``acompletion``, ``aembedding``, ... are the async ones)
    | functions(
        "litellm",
        "completion text_completion embedding image_generation transcription speech "
        "moderation rerank responses",
    )
    # ollama's module-level functions use a sync client of its own
    | functions(
        "ollama", "chat generate embed embeddings pull push create delete copy list show ps"
    )
    | functions(
        "google.generativeai",
        "embed_content generate_content list_models get_model upload_file get_file",
    )
    | functions("openai.ChatCompletion", "create")
    | functions("openai.Completion", "create")
    | functions("openai.Embedding", "create")
    | functions("openai.Image", "create create_edit create_variation")
    | functions("openai.Moderation", "create")
    | functions("openai.Audio", "transcribe translate")
    | functions("openai.Model", "list retrieve")
    # embed every document and write it to the store
    | frozenset(
        f"{store}.{made}"
        for store in _LANGCHAIN_STORES.split()
        for made in ("from_documents", "from_texts")
    )
    # google-auth's sync verifiers fetch the signing certificates with the sync
    # transport they are given, on every call (its async verifiers live elsewhere)
    | functions(
        "google.oauth2.id_token",
        "verify_oauth2_token verify_token verify_firebase_token fetch_id_token",
    )
    | functions(
        "firebase_admin.messaging",
        "send send_each send_each_for_multicast send_all send_multicast subscribe_to_topic "
        "unsubscribe_from_topic",
    )
    | functions(
        "firebase_admin.auth",
        "get_user get_user_by_email get_user_by_phone_number get_users create_user update_user "
        "delete_user list_users set_custom_user_claims revoke_refresh_tokens "
        "generate_password_reset_link generate_email_verification_link",
    )
    # PostHog queues events for a thread of its own (``capture`` returns at once), but
    # asks its server for feature flags while the caller waits, and ``flush`` waits for
    # the queue to be sent
    | functions("posthog", _POSTHOG_WAITS)
    | frozenset(
        f"stripe.{resource}.{call}"
        for resource in _STRIPE_RESOURCES.split()
        for call in _STRIPE_CALLS.split()
    ),
    returns={
        **{f"{_LI_INDEX}.{made}": _LI_INDEX for made in ("from_documents", "from_vector_store")},
        f"{_LI_INDEX}.as_query_engine": _LI_QUERY,
        f"{_LI_INDEX}.as_chat_engine": _LI_CHAT,
        f"{_LI_INDEX}.as_retriever": _LI_RETRIEVER,
        "llama_index.core.load_index_from_storage": _LI_INDEX,
        **{f"{store}.as_retriever": _RETRIEVER for store in [*_LANGCHAIN_STORES.split(), _FAISS]},
        **{f"{_FAISS}.{made}": _FAISS for made in ("from_texts", "from_documents", "load_local")},
        **{
            f"{model}.{binding}": model
            for model in _LANGCHAIN_CHAT_MODELS.split()
            for binding in _LANGCHAIN_BINDINGS.split()
        },
        "websocket.create_connection": "websocket.WebSocket",
        "websockets.sync.client.connect": "websockets.sync.client.ClientConnection",
        "neo4j.GraphDatabase.driver": "neo4j.Driver",
        "docker.from_env": "docker.DockerClient",
        "firebase_admin.firestore.client": "google.cloud.firestore.Client",
    },
    aliases={
        **{llm: _LI_LLM for llm in _LI_LLMS.split()},
        **{embedding: _LI_EMBEDDING for embedding in _LI_EMBEDDINGS.split()},
        "llama_index.core.indices.vector_store.base.VectorStoreIndex": _LI_INDEX,
        "llama_index.core.indices.VectorStoreIndex": _LI_INDEX,
        "llama_index.core.indices.base.BaseIndex": _LI_INDEX,
        "llama_index.VectorStoreIndex": _LI_INDEX,
        "llama_index.GPTVectorStoreIndex": _LI_INDEX,
        "llama_index.load_index_from_storage": "llama_index.core.load_index_from_storage",
        "llama_index.core.indices.loading.load_index_from_storage": (
            "llama_index.core.load_index_from_storage"
        ),
        "llama_index.core.query_engine.RetrieverQueryEngine": _LI_QUERY,
        "llama_index.core.chat_engine.CondensePlusContextChatEngine": _LI_CHAT,
        "llama_index.core.chat_engine.SimpleChatEngine": _LI_CHAT,
        "llama_index.core.chat_engine.ContextChatEngine": _LI_CHAT,
        "llama_index.core.retrievers.VectorIndexRetriever": _LI_RETRIEVER,
        "llama_index.Settings": "llama_index.core.Settings",
        # LangChain's community stores, imported from their own modules
        **{
            f"langchain_community.vectorstores.{module}.{store}": (
                f"langchain_community.vectorstores.{store}"
            )
            for module, store in [
                ("elasticsearch", "ElasticsearchStore"),
                ("milvus", "Milvus"),
                ("pgvector", "PGVector"),
                ("qdrant", "Qdrant"),
                ("chroma", "Chroma"),
            ]
        },
        "haystack.core.pipeline.pipeline.Pipeline": "haystack.Pipeline",
        "posthog.Client": "posthog.Posthog",
        "posthog.client.Client": "posthog.Posthog",
        "websocket._core.create_connection": "websocket.create_connection",
        "websockets.sync.connect": "websockets.sync.client.connect",
        "docker.client.from_env": "docker.from_env",
        "slack_bolt.app.App": "slack_bolt.App",
        "slack_bolt.app.app.App": "slack_bolt.App",
        "slack_bolt.oauth.oauth_flow.OAuthFlow": "slack_bolt.oauth.OAuthFlow",
    },
)
