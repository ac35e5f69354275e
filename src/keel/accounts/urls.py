from django.urls import path

from . import data_views, views

app_name = "accounts"
urlpatterns = [
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("signup/sent/", views.SignupSentView.as_view(), name="signup_sent"),
    path("signup/confirm/<str:token>/", views.SignupConfirmView.as_view(), name="signup_confirm"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/code/", views.LoginVerifyView.as_view(), name="login_verify"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("settings/", views.SettingsView.as_view(), name="settings"),
    path("settings/data/", data_views.download_data, name="data_export"),
    path("settings/close/", data_views.CloseAccountView.as_view(), name="close"),
    path("closed/", data_views.ClosedView.as_view(), name="closed"),
    path("two-factor/", views.TwoFactorView.as_view(), name="two_factor"),
    path("two-factor/setup/", views.TwoFactorSetupView.as_view(), name="two_factor_setup"),
    path("two-factor/confirm/", views.TwoFactorConfirmView.as_view(), name="two_factor_confirm"),
    path("two-factor/disable/", views.TwoFactorDisableView.as_view(), name="two_factor_disable"),
    path("two-factor/backup-codes/", views.BackupCodesView.as_view(), name="backup_codes"),
]
