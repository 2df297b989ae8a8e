"""URL map: portal pages, accounts (Django's auth views with our templates), admin, health."""

from django.contrib import admin
from django.urls import include, path

from partners import views as partner_views

from . import views

admin.site.site_header = "BTS Portal — staff"
admin.site.site_title = "BTS Portal staff"
admin.site.index_title = "Partners, school years and the season"
# The review queue and run lists are wide: give them the whole page (the index lists every model).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("", partner_views.home, name="home"),
    path("p/", include("partners.urls")),
    path("p/", include("syncs.urls")),
    path("", include("season.urls")),
    path("invitations/<str:token>/", partner_views.invitation_accept_view, name="invitation_accept"),
    path("sync-review/", include("circuit_breaks.urls")),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
