"""USK113 cpu-heavy: CPU-bound work on the event loop.

Incident: password hashing (bcrypt, ~250 ms by design) in an ``async def`` login route:
at 20 logins per second the loop was busy all the time and every endpoint's latency
went to seconds. Same story with PIL resizes, pandas CSV parsing, big Python loops,
QR codes (``pyqrcode`` in pure Python: about 150 ms a code) and PDF rendering
(reportlab, WeasyPrint, fpdf2: from tens of milliseconds to seconds a document).

Fix (the article's decision tree): under ~1 s, ``def`` or ``await loop.run_in_executor(
thread_pool, ...)`` (hashlib and PIL release the GIL); heavier, a process pool created in
lifespan (``run_in_executor(process_pool, ...)``); very heavy or queued, a Celery task.
"""

from unstuck.check.rule import CheapBelow, GivenToWait, Rule, Wording, functions, methods

_IMAGE = "PIL.Image.Image"
_FRAME = "pandas.DataFrame"
_QRCODE = "qrcode.QRCode"
_PYQRCODE = "pyqrcode.QRCode"
_SEGNO = "segno.QRCode"
_WEASYPRINT = "weasyprint.HTML"
_PLATYPUS = "reportlab.platypus.SimpleDocTemplate"
_CANVAS = "reportlab.pdfgen.canvas.Canvas"
_FPDF = "fpdf.FPDF"
_DOCX = "docx.document.Document"
_JINJA = "jinja2.Environment"
_KDF_PBKDF2 = "cryptography.hazmat.primitives.kdf.pbkdf2.PBKDF2HMAC"
_KDF_SCRYPT = "cryptography.hazmat.primitives.kdf.scrypt.Scrypt"
_TEMPLATES = "starlette.templating.Jinja2Templates"
_LANGCHAIN_LOADERS = (
    "PyPDFLoader PyMuPDFLoader PDFPlumberLoader UnstructuredFileLoader UnstructuredPDFLoader "
    "UnstructuredWordDocumentLoader UnstructuredMarkdownLoader UnstructuredHTMLLoader "
    "BSHTMLLoader Docx2txtLoader CSVLoader TextLoader JSONLoader"
)
_TEMPLATE_ENVIRONMENTS = (
    _JINJA,
    "jinja2.sandbox.SandboxedEnvironment",
    "jinja2.sandbox.ImmutableSandboxedEnvironment",
    _TEMPLATES,
)
# A template environment holds the cache of compiled templates: a new one per request
# parses and compiles every template it renders again (milliseconds each).
_PER_REQUEST_TEMPLATES = Wording(
    "builds a new template environment per request, so each template is read and compiled again",
    "build it once at import (or in lifespan) and reuse it",
)

_SERIALIZATION = "cryptography.hazmat.primitives.serialization"
# checking an RSA private key's primes as it is loaded costs tens of milliseconds
_KEY_LOADED = Wording(
    "loads a private key, and an RSA key is checked as it is loaded (some 30 ms a 2048-bit key)",
    "load it once (at start-up, or cached) and keep the key object",
)

_PRETRAINED = "transformers.PreTrainedModel"
_USER_MANAGER = "fastapi_users.manager.BaseUserManager"
_PASSWORD_HELPER = "fastapi_users.password.PasswordHelper"
_VIDEO = "cv2.VideoCapture"
# PyAV: a container opened probes the file (or stream) for its streams; decoding and
# encoding run FFmpeg's codecs on this thread
_AV_CONTAINER = "av.container.Container"
_SPACY = "spacy.language.Language"
# docTR's model builders: each returns a ``torch.nn.Module`` whose call runs the model
_DOCTR_PREDICTORS = "ocr_predictor kie_predictor detection_predictor recognition_predictor"
# the classes whose ``from_pretrained`` loads a model of the kind asked for
_AUTO_MODELS = (
    "AutoModel",
    "AutoModelForCausalLM",
    "AutoModelForSeq2SeqLM",
    "AutoModelForSequenceClassification",
    "AutoModelForTokenClassification",
    "AutoModelForQuestionAnswering",
    "AutoModelForMaskedLM",
    "AutoModelForSpeechSeq2Seq",
    "AutoModelForCTC",
    "AutoModelForImageClassification",
    "AutoModelForObjectDetection",
    "AutoModelForVision2Seq",
    "AutoModelForImageTextToText",
    "AutoModelForZeroShotImageClassification",
)
# diffusers' pipelines: each ``from_pretrained`` returns a pipeline whose call runs the
# denoising loop (seconds to minutes an image)
_DIFFUSION = "diffusers.DiffusionPipeline"
_DIFFUSION_PIPELINES = (
    "DiffusionPipeline",
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusionXLImg2ImgPipeline",
    "StableDiffusionXLInpaintPipeline",
    "StableDiffusionControlNetPipeline",
    "StableDiffusion3Pipeline",
    "AutoPipelineForText2Image",
    "AutoPipelineForImage2Image",
    "AutoPipelineForInpainting",
    "FluxPipeline",
    "PixArtAlphaPipeline",
)
# what loads a model's weights (the calls of what they return are listed in ``methods``)
_MODEL_LOADS = (
    "llama_cpp.Llama",
    "llama_cpp.Llama.from_pretrained",
    "gpt4all.GPT4All",
    "gpt4all.Embed4All",
    "spacy.load",
    "onnxruntime.InferenceSession",
    "faster_whisper.WhisperModel",
    "whisper.load_model",
    "ctranslate2.models.Whisper",
    "ctranslate2.Generator",
    "ctranslate2.Translator",
    "presidio_analyzer.AnalyzerEngine",
    "transformers.pipeline",
    "sentence_transformers.SentenceTransformer",
    "sentence_transformers.CrossEncoder",
    "kokoro.KPipeline",
    *(f"transformers.{auto}.from_pretrained" for auto in _AUTO_MODELS),
    *(f"doctr.models.{name}" for name in _DOCTR_PREDICTORS.split()),
    *(f"diffusers.{name}.from_pretrained" for name in _DIFFUSION_PIPELINES),
)

RULE = Rule(
    code="USK113",
    name="cpu-heavy",
    catches="password hashing and key derivation (bcrypt, passlib, argon2, pwdlib, "
    "fastapi-users' `PasswordHelper`, "
    "`hashlib.pbkdf2_hmac/scrypt`, cryptography's `PBKDF2HMAC`/`Scrypt`), PIL decoding and "
    "transforms, pandas I/O, QR codes (qrcode, pyqrcode, segno), PDF (reportlab, "
    "WeasyPrint, fpdf2, xhtml2pdf, pdfkit, md2pdf), Word documents (python-docx `save`, "
    "and a file opened), PowerPoint files opened (python-pptx), "
    "`savefig`, private keys loaded from bytes (RSA keys are checked as they load), "
    "a Jinja2 environment with a loader (`Environment`, `Jinja2Templates`) or `Template` built "
    "per request, `gc.collect`/`gc.get_objects`, new RSA/DSA keys and DH parameters, "
    "Prometheus text parsed, web pages parsed (BeautifulSoup, html2text, markdownify), "
    "documents converted (docling, LangChain's file loaders), PDFs parsed (pypdf, PyMuPDF), "
    "models run (llama-cpp-python, onnxruntime, faster-whisper, openai-whisper, Hugging Face "
    "`pipeline` or a model loaded by `AutoModel*.from_pretrained`, Kokoro, a "
    "`torch.nn.Module` of the project called, docTR's OCR models, diffusers' pipelines and "
    "their networks, GPT4All, spaCy pipelines, CTranslate2 models, Presidio's analyzer), "
    "images decoded, encoded or resized by OpenCV, audio and video opened, decoded or "
    "encoded by PyAV, "
    "videos read, spreadsheets read or written (openpyxl), "
    "models loaded per request, "
    "PDFs opened or saved by pikepdf or rendered by pdf2image, "
    "embeddings computed (sentence-transformers), "
    "audio decoded (soundfile, "
    "librosa, torchaudio, faster-whisper's `decode_audio`), "
    "Brotli at its default (slowest) quality, loops of a million iterations or more",
    example="""\
import bcrypt
from fastapi import FastAPI, HTTPException

app = FastAPI()
STORED = bcrypt.hashpw(b"secret", bcrypt.gensalt())

@app.post("/login")
async def login(password: str):
    if not bcrypt.checkpw(password.encode(), STORED):
        raise HTTPException(401)
""",
    doc=__doc__ or "",
    summary="is CPU-heavy work on the event loop",
    fix="run it in a process pool (`await loop.run_in_executor(process_pool, ...)`), "
    "or a thread for short work, or a task queue",
    advice="short: def or run_in_executor(thread pool); long: run_in_executor(process pool); "
    "very long or queued: Celery",
    functions=functions("hashlib", "pbkdf2_hmac scrypt")
    | functions("bcrypt", "hashpw checkpw kdf")
    | functions("argon2", "hash_password verify_password")
    | functions(
        "pandas",
        "read_csv read_excel read_parquet read_json read_sql read_html read_table read_feather",
    )
    | functions("passlib.hash.bcrypt", "hash verify")
    | functions("passlib.hash.argon2", "hash verify")
    | functions("passlib.hash.pbkdf2_sha256", "hash verify")
    | functions("passlib.hash.sha512_crypt", "hash verify")
    | functions("PIL.ImageOps", "exif_transpose fit contain cover pad grayscale equalize")
    | functions("qrcode", "make")
    | functions("pyqrcode", "create")
    | functions("segno", "make make_qr make_micro")
    | functions("xhtml2pdf.pisa", "CreatePDF")
    | functions("pdfkit", "from_string from_url from_file")
    | functions("md2pdf.core", "md2pdf")  # Markdown rendered by WeasyPrint
    | functions("matplotlib.pyplot", "savefig")
    | frozenset(_TEMPLATE_ENVIRONMENTS)
    # a template compiled from its source, with an environment of its own each time
    | frozenset({"jinja2.Template"})
    # a full collection, or a list of every object of the heap (seconds with big models)
    | functions("gc", "collect get_objects get_referrers")
    | functions("tracemalloc", "take_snapshot")
    # new asymmetric keys: a search for primes (tens to hundreds of milliseconds)
    | functions("cryptography.hazmat.primitives.asymmetric.rsa", "generate_private_key")
    | functions("cryptography.hazmat.primitives.asymmetric.dsa", "generate_private_key")
    | functions("cryptography.hazmat.primitives.asymmetric.dh", "generate_parameters")
    | functions("Crypto.PublicKey.RSA", "generate")
    | functions("paramiko.RSAKey", "generate")
    # an RSA private key loaded from its bytes is checked (its primes tested): some 30 ms
    # a 2048-bit key, on every load
    | functions(_SERIALIZATION, "load_pem_private_key load_der_private_key")
    | functions("paramiko.RSAKey", "from_private_key from_private_key_file")
    # the text format of Prometheus metrics, parsed in pure Python
    | functions("prometheus_client.parser", "text_string_to_metric_families")
    # a web page parsed into a tree, or turned into text or Markdown: tens of
    # milliseconds to a second for a real page
    | frozenset({"bs4.BeautifulSoup", "html2text.html2text", "markdownify.markdownify"})
    # a Word file opened: unzipped and its XML parsed (a new document, with no file given,
    # does not count: see ``nonblocking``)
    | frozenset({"docx.Document"})
    # a PowerPoint file opened the same way (python-pptx)
    | frozenset({"pptx.Presentation"})
    # a PDF parsed: its cross-reference table and objects read (pypdf, PyMuPDF); its
    # pages' text extracted as they are read
    | frozenset({"pypdf.PdfReader", "PyPDF2.PdfReader", "PyPDF2.PdfFileReader"})
    | functions("fitz", "open")
    | functions("pymupdf", "open")
    # a model loaded: its weights read from disk (or fetched) and set up, from hundreds
    # of milliseconds to minutes: per request, it is loaded again for every one
    | frozenset(_MODEL_LOADS)
    # docTR: documents rendered to page images (a PDF page by page)
    | functions("doctr.io.DocumentFile", "from_pdf from_images")
    # a PDF opened and written whole (pikepdf, on qpdf), or rendered to images by
    # poppler's ``pdftoppm``, which pdf2image runs and waits for
    | functions("pikepdf", "open")
    | functions("pikepdf.Pdf", "open")
    | functions("pdf2image", "convert_from_path convert_from_bytes")
    | functions("soundfile", "read")
    # Brotli's default quality (11) is its slowest: meant for files compressed once
    | functions("brotli", "compress")
    | functions("librosa", "load resample")
    | functions("torchaudio", "load")
    # faster-whisper's decoder: the whole file decoded and resampled with PyAV
    | functions("faster_whisper.audio", "decode_audio")
    | frozenset({"faster_whisper.decode_audio"})
    # a spreadsheet read: the XML of every sheet parsed (openpyxl)
    | functions("openpyxl", "load_workbook")
    # OpenCV: an image decoded or encoded (a photo: tens of milliseconds), read from or
    # written to a file, resized; a video opened (its container probed)
    | functions("cv2", "imdecode imencode imread imwrite imreadmulti resize")
    | frozenset({_VIDEO})
    | frozenset({"av.open"}),
    messages={
        **{name: _PER_REQUEST_TEMPLATES for name in _TEMPLATE_ENVIRONMENTS},
        **{
            f"{_SERIALIZATION}.{name}": _KEY_LOADED
            for name in ("load_pem_private_key", "load_der_private_key")
        },
        **{
            f"paramiko.RSAKey.{name}": _KEY_LOADED
            for name in ("from_private_key", "from_private_key_file")
        },
        "brotli.compress": Wording(
            "compresses at Brotli's slowest quality (11, the default): some 0.4 s for a "
            "300 kB JSON response, against 6 ms at quality 5",
            "pass `quality=4` or `5` for responses (several times faster), or compress in a thread",
        ),
        "jinja2.Template": Wording(
            "compiles the template's source again, in an environment of its own",
            "compile it once (at import, or in a cache keyed by its source) and reuse it",
        ),
        **{
            f"{name}.from_string": Wording(
                "compiles the template's source again at each call",
                "compile it once (at import, or in a cache keyed by its source) and reuse it",
            )
            for name in _TEMPLATE_ENVIRONMENTS[:3]
        },
        **{
            f"gc.{name}": Wording(
                "walks every object of the heap while the loop waits",
                "leave collections to the collector; for a heap report, make the route `def`",
            )
            for name in ("collect", "get_objects", "get_referrers")
        },
    },
    nonblocking={
        "docx.Document": ("docx", 0, GivenToWait()),
        # an environment without a loader keeps no templates to compile again: what its
        # ``from_string`` compiles is reported there
        **{name: ("loader", -1, GivenToWait()) for name in _TEMPLATE_ENVIRONMENTS[:3]},
        "pptx.Presentation": ("pptx", 0, GivenToWait()),
        **{
            f"{_SERIALIZATION}.{name}": ("unsafe_skip_rsa_key_validation", -1, True)
            for name in ("load_pem_private_key", "load_der_private_key")
        },
    },
    methods=methods("passlib.context.CryptContext", "hash verify verify_and_update encrypt")
    # a template compiled from its source at each call (no cache for ``from_string``)
    | frozenset((name, "from_string") for name in _TEMPLATE_ENVIRONMENTS[:3])
    | methods("html2text.HTML2Text", "handle")
    # audio decoded into samples (and read from the file it is given)
    | methods("soundfile.SoundFile", "read")
    # documents read and converted: layout models, OCR, PDF parsing (seconds a document)
    | methods("docling.document_converter.DocumentConverter", "convert convert_all")
    | frozenset(
        (f"langchain_community.document_loaders.{loader}", method)
        for loader in _LANGCHAIN_LOADERS.split()
        for method in ("load", "load_and_split")
    )
    | methods("argon2.PasswordHasher", "hash verify")
    # a model run: local LLMs, ONNX graphs, speech recognition, Hugging Face pipelines
    # (hundreds of milliseconds to minutes a call)
    | methods(
        "llama_cpp.Llama",
        "__call__ create_completion create_chat_completion create_embedding embed",
    )
    | methods("onnxruntime.InferenceSession", "run run_with_iobinding")
    | methods("faster_whisper.WhisperModel", "transcribe detect_language")
    | methods("faster_whisper.BatchedInferencePipeline", "transcribe")
    | methods("whisper.model.Whisper", "transcribe")
    # CTranslate2's models (faster-whisper runs on them): each call runs the network
    | methods("ctranslate2.models.Whisper", "generate detect_language encode align")
    | methods("ctranslate2.Generator", "generate_batch generate_tokens score_batch")
    | methods("ctranslate2.Translator", "translate_batch translate_iterable score_batch")
    # Presidio runs a spaCy (or transformers) NER pipeline over the text, then its recognizers
    | methods("presidio_analyzer.AnalyzerEngine", "analyze")
    | methods("transformers.Pipeline", "__call__")
    # a neural network of the project's (a ``torch.nn.Module`` subclass) called: its
    # forward pass, milliseconds to seconds on a CPU
    | methods("torch.nn.Module", "__call__ forward")
    # a pretrained model loaded by transformers: its forward pass, and text generated token
    # by token (``chat``, ``stream_chat``, ``chat_stream``: methods remote code of chat models adds)
    | methods(_PRETRAINED, "__call__ forward generate chat stream_chat chat_stream stream_generate")
    | methods("kokoro.KPipeline", "__call__ generate_from_tokens")
    | methods(_DIFFUSION, "__call__")
    | methods("gpt4all.GPT4All", "generate")
    # a spaCy pipeline run over a text: tokenizer, tagger, parser, entities
    | methods(_SPACY, "__call__ pipe")
    | methods("openpyxl.Workbook", "save")
    | methods("gpt4all.Embed4All", "embed")
    # a video's frames decoded one by one
    | methods(_VIDEO, "read grab retrieve")
    | methods(_AV_CONTAINER, "decode demux mux")
    | methods("av.stream.Stream", "encode decode")
    | methods("av.frame.Frame", "reformat to_ndarray to_image")
    # a transformer model run over the texts (tens of milliseconds to seconds a batch)
    | methods("sentence_transformers.SentenceTransformer", "encode encode_query encode_document")
    | methods("sentence_transformers.CrossEncoder", "predict rank")
    | methods("pwdlib.PasswordHash", "hash verify verify_and_update")
    | methods(_PASSWORD_HELPER, "hash verify_and_update")
    # cryptography's key derivation functions (hundreds of thousands of rounds, or
    # scrypt's memory-hard work), not its ciphers
    | methods(_KDF_PBKDF2, "derive verify")
    | methods(_KDF_SCRYPT, "derive verify")
    # ``Image.open`` only reads the header: decoding happens in these
    | methods(
        _IMAGE,
        "resize thumbnail save convert rotate transform filter load reduce quantize tobytes",
    )
    | methods(_FRAME, "to_csv to_excel to_parquet to_json to_sql to_feather")
    | methods(_QRCODE, "make make_image print_ascii print_tty get_matrix")
    | methods(_PYQRCODE, "png svg eps xbm text terminal png_as_base64_str get_png_size")
    | methods(_SEGNO, "save png_data_uri svg_data_uri svg_inline terminal matrix_iter")
    | methods(_WEASYPRINT, "write_pdf render")
    | methods("weasyprint.Document", "write_pdf")
    | methods(_PLATYPUS, "build multiBuild")
    | methods(_CANVAS, "save getpdfdata")
    | methods(_FPDF, "output")
    | methods("pikepdf.Pdf", "save")
    # serializes every part of the document to XML and zips it (and writes the file)
    | methods(_DOCX, "save"),
    # the frames a container's ``decode`` gives, as it is iterated
    yields={f"{_AV_CONTAINER}.decode": "av.frame.Frame"},
    returns={
        "pwdlib.PasswordHash.recommended": "pwdlib.PasswordHash",
        "whisper.load_model": "whisper.model.Whisper",
        "transformers.pipeline": "transformers.Pipeline",
        **{f"transformers.{auto}.from_pretrained": _PRETRAINED for auto in _AUTO_MODELS},
        "llama_cpp.Llama.from_pretrained": "llama_cpp.Llama",
        "spacy.load": _SPACY,
        "spacy.blank": _SPACY,
        "openpyxl.load_workbook": "openpyxl.Workbook",
        **{f"diffusers.{name}.from_pretrained": _DIFFUSION for name in _DIFFUSION_PIPELINES},
        "pikepdf.open": "pikepdf.Pdf",
        "pikepdf.Pdf.open": "pikepdf.Pdf",
        **{f"doctr.models.{name}": "torch.nn.Module" for name in _DOCTR_PREDICTORS.split()},
        "PIL.Image.open": _IMAGE,
        "av.open": _AV_CONTAINER,
        "PIL.Image.new": _IMAGE,
        # an image made from an array or bytes (OpenCV's, numpy's): its encoding is work
        "PIL.Image.fromarray": _IMAGE,
        "PIL.Image.frombytes": _IMAGE,
        "PIL.Image.frombuffer": _IMAGE,
        "qrcode.make": _IMAGE,
        "pyqrcode.create": _PYQRCODE,
        "segno.make": _SEGNO,
        "segno.make_qr": _SEGNO,
        "segno.make_micro": _SEGNO,
        f"{_WEASYPRINT}.render": "weasyprint.Document",
        "docx.Document": _DOCX,
        **{f"{_IMAGE}.{name}": _IMAGE for name in ["resize", "convert", "rotate", "copy", "crop"]},
        # the frame's other constructors, and functions that make a new frame
        **{f"{_FRAME}.{name}": _FRAME for name in ["from_records", "from_dict"]},
        **{f"pandas.{name}": _FRAME for name in ["concat", "json_normalize"]},
        **{
            f"pandas.{name}": _FRAME
            for name in [
                "read_csv",
                "read_excel",
                "read_parquet",
                "read_json",
                "read_sql",
                "read_table",
            ]
        },
    },
    # a key derivation of a few thousand iterations takes a millisecond or two
    cheap_below={
        "hashlib.pbkdf2_hmac": CheapBelow("iterations", 3, 10_000),
        "hashlib.scrypt": CheapBelow("n", -1, 4_096),
        "brotli.compress": CheapBelow("quality", 2, 6),
    },
    # a network moved or switched to inference mode is the same network
    # a pipeline's networks: each a torch module, run by the pipeline or on its own
    attribute_types={
        **{
            (_DIFFUSION, name): "torch.nn.Module"
            for name in (
                "unet",
                "vae",
                "text_encoder",
                "text_encoder_2",
                "transformer",
                "controlnet",
            )
        },
        # fastapi-users' user manager hashes and checks passwords with its helper
        (_USER_MANAGER, "password_helper"): _PASSWORD_HELPER,
    },
    returns_receiver=frozenset(
        f"{network}.{name}"
        for network in ("torch.nn.Module", _PRETRAINED)
        for name in ("eval", "train", "to", "cuda", "cpu", "half", "float", "requires_grad_")
    )
    | functions(_DIFFUSION, "to"),
    aliases={
        "fastapi_users.BaseUserManager": _USER_MANAGER,
        "fastapi_users.password.PasswordHelperProtocol": _PASSWORD_HELPER,
        "torch.nn.modules.module.Module": "torch.nn.Module",
        # Lightning's modules are torch modules (its trainer calls their other hooks)
        "pytorch_lightning.LightningModule": "torch.nn.Module",
        "lightning.LightningModule": "torch.nn.Module",
        "lightning.pytorch.LightningModule": "torch.nn.Module",
        "passlib.CryptContext": "passlib.context.CryptContext",
        "llama_cpp.llama.Llama": "llama_cpp.Llama",
        "faster_whisper.transcribe.WhisperModel": "faster_whisper.WhisperModel",
        "faster_whisper.transcribe.BatchedInferencePipeline": (
            "faster_whisper.BatchedInferencePipeline"
        ),
        "whisper.Whisper": "whisper.model.Whisper",
        "transformers.pipelines.pipeline": "transformers.pipeline",
        "transformers.pipelines.base.Pipeline": "transformers.Pipeline",
        "kokoro.pipeline.KPipeline": "kokoro.KPipeline",
        "diffusers.pipelines.DiffusionPipeline": _DIFFUSION,
        "gpt4all.gpt4all.GPT4All": "gpt4all.GPT4All",
        "spacy.Language": _SPACY,
        "openpyxl.workbook.workbook.Workbook": "openpyxl.Workbook",
        "openpyxl.workbook.Workbook": "openpyxl.Workbook",
        "gpt4all.gpt4all.Embed4All": "gpt4all.Embed4All",
        "diffusers.pipelines.pipeline_utils.DiffusionPipeline": _DIFFUSION,
        **{
            f"doctr.models.zoo.{name}": f"doctr.models.{name}" for name in _DOCTR_PREDICTORS.split()
        },
        "doctr.io.reader.DocumentFile": "doctr.io.DocumentFile",
        "sentence_transformers.SentenceTransformer.SentenceTransformer": (
            "sentence_transformers.SentenceTransformer"
        ),
        "sentence_transformers.cross_encoder.CrossEncoder.CrossEncoder": (
            "sentence_transformers.CrossEncoder"
        ),
        "argon2._password_hasher.PasswordHasher": "argon2.PasswordHasher",
        "pandas.core.frame.DataFrame": _FRAME,
        "qrcode.main.QRCode": _QRCODE,
        "pyqrcode.builder.QRCode": _PYQRCODE,
        "reportlab.platypus.doctemplate.SimpleDocTemplate": _PLATYPUS,
        "fpdf.fpdf.FPDF": _FPDF,
        "docx.api.Document": "docx.Document",
        "md2pdf.md2pdf": "md2pdf.core.md2pdf",
        "weasyprint.document.Document": "weasyprint.Document",
        "weasyprint.document.HTML": _WEASYPRINT,
        "jinja2.environment.Environment": _JINJA,
        "fastapi.templating.Jinja2Templates": _TEMPLATES,
    },
)
