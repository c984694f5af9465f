app_name = "nodes"
urlpatterns = []
