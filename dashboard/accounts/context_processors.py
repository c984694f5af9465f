from dashboard.accounts.roles import is_admin, is_teacher


def roles(request):
    return {"is_teacher": is_teacher(request.user), "is_admin": is_admin(request.user)}
