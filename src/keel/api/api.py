from ninja import NinjaAPI

api = NinjaAPI(title="Keel API", version="1")
